"""Tiny end-to-end runs of the plugin's asr_train and asr_inference wrappers."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml
from conftest import TINY_CONFORMER
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

pytestmark = pytest.mark.e2e

SAMPLE_RATE = 8000
LETTERS = "abcd"
UTTERANCES = ["ab", "bad", "cab", "dab", "abc", "dcba", "bb", "cad", "add", "ca"]


def synthesize(text: str, rng: np.random.Generator) -> np.ndarray:
    """One 0.12 s tone per letter (a distinct pitch each) plus a little noise."""
    t = np.arange(int(0.12 * SAMPLE_RATE)) / SAMPLE_RATE
    tones = [np.sin(2 * np.pi * (300 + 250 * LETTERS.index(c)) * t) for c in text]
    audio = 0.5 * np.concatenate(tones) + 0.01 * rng.standard_normal(len(t) * len(text))
    return audio.astype(np.float32)


def run(module: str, *args: str, cwd: Path) -> str:
    """Run a plugin entry point; return its log (stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", f"espnet_omnirouter.bin.{module}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{module} failed:\n{result.stderr[-4000:]}"
    assert "Error loading" not in result.stderr  # no nltk download errors in the log
    return result.stderr


def data_args(data: Path, prefix: str) -> list:
    return [
        f"--{prefix}_data_path_and_name_and_type",
        f"{data}/wav.scp,speech,sound",
        f"--{prefix}_data_path_and_name_and_type",
        f"{data}/text,text,text",
    ]


def tensorboard_scalars(log_dir: Path) -> set:
    accumulator = EventAccumulator(str(log_dir))
    accumulator.Reload()
    return set(accumulator.Tags()["scalars"])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """Data dir, token list and feature statistics, shared by every model type."""
    root = tmp_path_factory.mktemp("e2e")
    data = root / "data"
    (data / "wav").mkdir(parents=True)
    rng = np.random.default_rng(0)
    wav_scp, text = [], []
    for index, sentence in enumerate(UTTERANCES):
        utt = f"utt{index:02d}"
        path = data / "wav" / f"{utt}.wav"
        soundfile.write(path, synthesize(sentence, rng), SAMPLE_RATE)
        wav_scp.append(f"{utt} {path}\n")
        text.append(f"{utt} {sentence}\n")
    (data / "wav.scp").write_text("".join(wav_scp))
    (data / "text").write_text("".join(text))
    (root / "tokens.txt").write_text("\n".join(["<blank>", "<unk>", *LETTERS, "<sos/eos>"]) + "\n")
    config = {
        "frontend_conf": {"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": SAMPLE_RATE},
        "encoder": "moe_conformer",
        "encoder_conf": {**TINY_CONFORMER, "moe_conf": {"type": "dense"}},
        "decoder": "transformer",
        "decoder_conf": {"attention_heads": 2, "linear_units": 24, "num_blocks": 1},
        "model": "moe_espnet",
        "model_conf": {"ctc_weight": 0.5},
        "batch_type": "sorted",
        "batch_size": 5,
        "max_epoch": 2,
        "optim": "adam",
        "optim_conf": {"lr": 0.002},
        "num_att_plot": 0,
    }
    (root / "base.yaml").write_text(yaml.safe_dump(config))
    common = [
        "--use_preprocessor",
        "true",
        "--token_type",
        "char",
        "--token_list",
        str(root / "tokens.txt"),
        "--ngpu",
        "0",
        "--num_workers",
        "0",
    ]
    run(
        "asr_train",
        "--collect_stats",
        "true",
        "--config",
        str(root / "base.yaml"),
        *common,
        *data_args(data, "train"),
        *data_args(data, "valid"),
        "--train_shape_file",
        str(data / "wav.scp"),
        "--valid_shape_file",
        str(data / "wav.scp"),
        "--output_dir",
        str(root / "stats"),
        cwd=root,
    )
    (root / "common_args.yaml").write_text(yaml.safe_dump(common))
    return root


@pytest.mark.parametrize("moe_type", ["dense", "switch", "omni"])
def test_train_then_decode(workdir: Path, moe_type: str):
    data, stats = workdir / "data", workdir / "stats" / "train"
    config = yaml.safe_load((workdir / "base.yaml").read_text())
    config["encoder_conf"]["moe_conf"] = {"type": moe_type, "num_experts": 2}
    config_path = workdir / f"train_{moe_type}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    exp = workdir / f"exp_{moe_type}"
    log = run(
        "asr_train",
        "--config",
        str(config_path),
        *yaml.safe_load((workdir / "common_args.yaml").read_text()),
        "--normalize",
        "global_mvn",
        "--normalize_conf",
        f"stats_file={stats}/feats_stats.npz",
        *data_args(data, "train"),
        *data_args(data, "valid"),
        "--train_shape_file",
        str(stats / "speech_shape"),
        "--train_shape_file",
        str(stats / "text_shape"),
        "--valid_shape_file",
        str(stats / "speech_shape"),
        "--valid_shape_file",
        str(stats / "text_shape"),
        "--output_dir",
        str(exp),
        cwd=workdir,
    )
    assert (exp / "2epoch.pth").exists()
    assert "2epoch results:" in log  # ESPnet's INFO logging survives the plugin's import
    scalars = tensorboard_scalars(exp / "tensorboard" / "train")
    assert "loss_ctc" in scalars
    moe_scalars = {"moe_aux_loss", "moe_enc2_ffn_load_max", "moe_enc0_macaron_entropy"}
    assert (moe_scalars <= scalars) == (moe_type != "dense")
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
