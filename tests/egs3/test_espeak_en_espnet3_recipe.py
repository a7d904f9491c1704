"""egs3/espeak_en/asr1: a tiny ESPnet3 run of every stage that works offline, with ESPnet3's
own run.py (skipped without ESPnet3).

One ``run.py`` call runs create_dataset (the ESPnet2 recipe's synthesis, a few utterances
per set), train_tokenizer, collect_stats, train (a tiny omni model), infer and measure
(two test sets), pack_model and pack_demo; upload_model and upload_demo need the Hugging
Face Hub. Then ``bin/make_results --espnet3`` writes the results table, and the packed
model transcribes through ESPnet3's ``InferenceModel``.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

# ESPnet3's package, not tests/espnet3 (tests/ is on sys.path).
pytest.importorskip("espnet3.systems")

from espnet_omnirouter.scoring.wer import read_kaldi_text, score  # noqa: E402

pytestmark = pytest.mark.e2e

RECIPE = Path(__file__).resolve().parents[2] / "egs3" / "espeak_en" / "asr1"
TEST_SETS = ["test_clean", "test_noise"]
STAGES = [
    "create_dataset",
    "train_tokenizer",
    "collect_stats",
    "train",
    "infer",
    "measure",
    "pack_model",
    "pack_demo",
]
# The recipe's configs, made tiny; the others are used as they are.
TINY_TRAINING = {
    "create_dataset": {"num_train": 12, "num_dev": 4, "num_test": 3, "nj": 1},
    "tokenizer": {"vocab_size": 30},
    "model": {
        "encoder_conf": {
            "output_size": 16,
            "attention_heads": 2,
            "linear_units": 16,
            "num_blocks": 2,
            "cnn_module_kernel": 3,
        }
    },
    "trainer": {"max_epochs": 4, "log_every_n_steps": 1},  # averages the 3 best of 3
}
TINY_INFERENCE = {
    "dataset": {
        "test": [
            {
                "name": name,
                "data_src_args": {"data_dir": f"${{dataset_dir}}/{name}", "utt_ids": True},
            }
            for name in TEST_SETS
        ]
    }
}


def tiny_config(work: Path, name: str, overrides: dict) -> Path:
    path = work / "conf" / f"{name}.yaml"
    defaults = {"defaults": [str(RECIPE / "conf" / name), "_self_"]}
    path.write_text(yaml.safe_dump({**defaults, **overrides}, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def recipe_run(tmp_path_factory) -> Path:
    """The recipe's dir as a user has it (run.py, dataset/ and conf/ of the checkout), with
    data/ and exp/ written inside it, after every offline stage and make_results."""
    work = tmp_path_factory.mktemp("espnet3") / "asr1"
    (work / "conf").mkdir(parents=True)
    for name in ("run.py", "dataset"):
        (work / name).symlink_to(RECIPE / name)
    for name in ("metrics", "publication", "demo"):
        (work / "conf" / f"{name}.yaml").symlink_to(RECIPE / "conf" / f"{name}.yaml")
    tiny_config(work, "training_omni", TINY_TRAINING)
    tiny_config(work, "inference_ctc_greedy", TINY_INFERENCE)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("ESPEAK_EN_DATA", None)  # the recipe's own data/
    command = [sys.executable, "run.py", "--stages", *STAGES]
    for role, name in [
        ("training", "training_omni"),
        ("inference", "inference_ctc_greedy"),
        ("metrics", "metrics"),
        ("publication", "publication"),
        ("demo", "demo"),
    ]:
        command += [f"--{role}_config", f"conf/{name}.yaml"]
    result = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "espnet_omnirouter.bin.make_results",
            "--espnet3",
            "--exp_dir",
            "exp",
            "--data_dir",
            "data",
            "--models",
            "omni",
            "--test_sets",
            *TEST_SETS,
            "--decode_modes",
            "ctc_greedy",
            "--output",
            "RESULTS.md",
        ],  # fmt: skip
        cwd=work,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return work


def test_data_tokenizer_and_statistics(recipe_run):
    data = recipe_run / "data"
    for name in ["train", "dev", *TEST_SETS]:
        assert len(read_kaldi_text(data / name / "text")) == {"train": 12, "dev": 4}.get(name, 3)
    assert len((data / "unigram_30" / "tokens.txt").read_text().split()) == 30
    assert (recipe_run / "exp" / "stats" / "train" / "feats_stats.npz").is_file()


def test_training_builds_the_plugin_s_model_and_averages(recipe_run):
    exp = recipe_run / "exp" / "training_omni"
    config = yaml.safe_load((exp / "config.yaml").read_text())  # what ESPnet2's loaders read
    assert (config["encoder"], config["model"]) == ("moe_conformer", "moe_espnet")
    assert config["encoder_conf"]["moe_conf"]["type"] == "omni"
    assert (exp / "valid.loss.ave_3best.pth").is_file()


def test_routing_statistics_and_aux_losses_reach_the_lightning_loggers(recipe_run):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tags = set()
    for events in (recipe_run / "exp" / "training_omni" / "tensorboard").rglob("events.*"):
        accumulator = EventAccumulator(str(events))
        accumulator.Reload()
        tags |= set(accumulator.Tags()["scalars"])
    for mode in ("train", "valid"):
        expected = ["moe_aux_loss", "moe_load_balancing_loss", "moe_z_loss"]
        for layer in ("enc0_macaron", "enc0_ffn", "enc1_macaron", "enc1_ffn"):
            expected += [f"moe_{layer}_entropy", f"moe_{layer}_load_max"]
        assert {f"{mode}/{key}" for key in expected} <= tags


def test_inference_and_measure(recipe_run):
    inference = recipe_run / "exp" / "training_omni" / "inference_ctc_greedy"
    metrics = json.loads((inference / "metrics.json").read_text())
    wers = metrics["espnet_omnirouter.espnet3.metrics.WER"]
    for name in TEST_SETS:
        references = read_kaldi_text(recipe_run / "data" / name / "text")
        hypotheses = read_kaldi_text(inference / name / "text.scp")
        assert hypotheses.keys() == references.keys()  # the Kaldi utterance ids
        for kind in ("decode_seconds", "audio_seconds"):
            seconds = read_kaldi_text(inference / name / f"{kind}.scp")
            assert seconds.keys() == references.keys()
            assert all(float(value) > 0 for value in seconds.values())
        assert wers[name]["WER"] == round(score(references, hypotheses).wer, 2)
    table = (recipe_run / "RESULTS.md").read_text()
    row = next(line for line in table.splitlines() if line.startswith("| omni |"))
    assert f"{score(references, hypotheses).wer:.1f}" in row  # the last set's WER
    assert (recipe_run / "exp" / "training_omni" / "RESULTS.md").is_file()


def test_the_packed_model_transcribes_through_espnet3(recipe_run):
    from espnet3.publication.inference_model import InferenceModel

    pack = recipe_run / "exp" / "training_omni" / "model_pack"
    assert not list(pack.rglob("*.ckpt"))  # the averaged weights only
    with pytest.raises(ValueError, match="espnet_omnirouter.espnet3.inference.DecodingBackend"):
        InferenceModel.from_packed(pack)  # the backend is code outside ESPnet
    model = InferenceModel.from_packed(pack, trust_user_code=True)
    utt_id, wav = next(
        iter(read_kaldi_text(recipe_run / "data" / "test_clean" / "wav.scp").items())
    )
    expected = read_kaldi_text(
        recipe_run / "exp" / "training_omni" / "inference_ctc_greedy" / "test_clean" / "text.scp"
    )[utt_id]
    assert model(wav)["text"] == expected
    demo = recipe_run / "exp" / "training_omni" / "demo"
    assert "espnet_omnirouter" in (demo / "requirements.txt").read_text()
    assert (demo / "app.py").is_file() and (demo / "demo.yaml").is_file()


def test_run_sh_decodes_each_trained_model_in_the_mode_it_suits(recipe_run, tmp_path):
    """run.sh's choice of inference config: local/decoding_mode.py on the trained config."""

    def mode_of(config: Path) -> str:
        script = RECIPE / "local" / "decoding_mode.py"
        result = subprocess.run(
            [sys.executable, str(script), str(config)], capture_output=True, text=True
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    trained = recipe_run / "exp" / "training_omni" / "config.yaml"
    assert mode_of(trained) == "ctc_greedy"  # CTC only
    with_decoder = yaml.safe_load(trained.read_text())
    with_decoder["decoder"] = "bi_transformer"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(with_decoder))
    assert mode_of(tmp_path / "config.yaml") == "attention_rescoring"
    assert (RECIPE / "conf" / "inference_attention_rescoring.yaml").is_file()
