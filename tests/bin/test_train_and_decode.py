"""Tiny end-to-end runs of the plugin's asr_train and asr_inference wrappers."""

from pathlib import Path

import pytest
import torch
import yaml
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tiny_asr import UTTERANCES, make_workdir, run, train

pytestmark = pytest.mark.e2e


def tensorboard_scalars(log_dir: Path) -> set:
    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return set(accumulator.Tags()["scalars"])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return make_workdir(tmp_path_factory.mktemp("e2e"))


@pytest.mark.parametrize("moe_type", ["dense", "switch", "omni"])
def test_train_then_decode(workdir: Path, moe_type: str):
    exp = workdir / f"exp_{moe_type}"
    log = train(workdir, moe_type, exp)
    assert (exp / "2epoch.pth").exists()
    assert "2epoch results:" in log  # ESPnet's INFO logging survives the plugin's import
    scalars = tensorboard_scalars(exp / "tensorboard" / "train")
    assert "loss_ctc" in scalars
    moe_scalars = {"moe_aux_loss", "moe_enc2_ffn_load_max", "moe_enc0_macaron_entropy"}
    assert (moe_scalars <= scalars) == (moe_type != "dense")
    data = workdir / "data"
    run(
        "asr_inference",
        "--asr_train_config",
        str(exp / "config.yaml"),
        "--asr_model_file",
        str(exp / "2epoch.pth"),
        "--data_path_and_name_and_type",
        f"{data}/wav.scp,speech,sound",
        "--key_file",
        str(data / "wav.scp"),
        "--output_dir",
        str(exp / "decode"),
        "--ngpu",
        "0",
        "--batch_size",
        "1",
        "--beam_size",
        "2",
        "--ctc_weight",
        "0.5",
        cwd=workdir,
    )
    hypotheses = (exp / "decode" / "1best_recog" / "text").read_text().splitlines()
    assert sorted(line.split()[0] for line in hypotheses) == [
        f"utt{i:02d}" for i in range(len(UTTERANCES))
    ]


def test_deterministic_training_repeats_bit_for_bit(workdir: Path):
    """``--deterministic true``: two runs with the same seed give the same weights."""
    checkpoints = []
    for run_index in range(2):
        exp = workdir / f"exp_deterministic{run_index}"
        train(workdir, "omni", exp, "--deterministic", "true", "--max_epoch", "1")
        assert yaml.safe_load((exp / "config.yaml").read_text())["deterministic"] is True
        checkpoints.append(torch.load(exp / "1epoch.pth"))
    assert checkpoints[0].keys() == checkpoints[1].keys()
    assert all(torch.equal(checkpoints[0][key], checkpoints[1][key]) for key in checkpoints[0])
