"""The default recipe: sentence split, and a tiny run of every stage of run.sh (stage 11,
ONNX export, has its own test: tests/export/test_recipe_export_stage.py)."""

import importlib.util
import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import TINY_RECIPE_ENCODER_ARGS

from espnet_omnirouter.analysis.training_log import read_training_log
from espnet_omnirouter.data.kaldi_dir import validate_data_dir

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "espeak_en" / "asr1"
TEST_SETS = [
    "test_clean",
    "test_accent",
    "test_flite",
    "test_fast",
    "test_noise",
    "test_reverb",
    "test_telephone",
    "test_text",
]


def load_prepare_data():
    spec = importlib.util.spec_from_file_location("prepare_data", RECIPE / "local/prepare_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sentence_split_is_disjoint_and_covers_test_words():
    split = load_prepare_data().split_sentences(num_dev=150, num_test=200, seed=0)
    train, dev, test = set(split["train"]), set(split["dev"]), set(split["test"])
    assert len(test) == 200 and len(dev) == 150 and len(train) > 3000
    assert not (train & test) and not (train & dev) and not (dev & test)
    train_words = {w for s in train for w in s.split()}
    assert all(w in train_words for s in test for w in s.split())
    assert not set(split["test_text"]) & train


@pytest.mark.e2e
def test_tiny_run_through_every_stage(tmp_path):
    command = [
        "bash",
        str(RECIPE / "run.sh"),
        "--num_train",
        "40",
        "--num_dev",
        "8",
        "--num_test",
        "6",
        "--vocab_size",
        "60",
        "--data_dir",
        str(tmp_path / "data"),
        "--exp_dir",
        str(tmp_path / "exp"),
        "--results_file",
        str(tmp_path / "RESULTS.md"),
        "--train_args",
        f"--max_epoch 2 --batch_size 8 {TINY_RECIPE_ENCODER_ARGS}",
        "--hf_repo",
        "tester/espeak_en_{model}",
        "--hf_dry_run",
        "true",
        "--figures_dir",
        str(tmp_path / "figures"),
        "--models",
        "dense omni u2pp_moe",  # switch runs exactly omni's code path here
        "--streaming_chunk_size",
        "4",
        "--stop_stage",
        "10",
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    # Progress on the console: synthesis per job, one line per epoch of each model (losses,
    # accuracy or CER, time left), decoding per test set and job, routing per set.
    console = result.stdout
    assert "[data] train (job 2/2): 20/20 utterances" in console
    epochs = re.findall(
        r"^\[train\] epoch (\d)/2: train loss [\d.]+.*; valid loss [\d.]+", console, re.M
    )
    assert epochs == ["1", "2"] * 3
    assert re.search(
        r"^\[train\] epoch 1/2: .*CER [\d.]+%; .* elapsed, about .* left$", console, re.M
    )
    # dense, omni, u2pp_moe at full context and u2pp_moe streaming
    assert console.count("[decode] test_flite (job 1/2): 3 utterances") == 4
    assert "[routing] test_noise: " in console
    for name in ["train", "dev", *TEST_SETS]:
        expected = {"train": 40, "dev": 8}.get(name, 6)
        assert validate_data_dir(tmp_path / "data" / name) == expected, name
    results = (tmp_path / "RESULTS.md").read_text()
    header = "| model | params (total / active) | " + " | ".join(TEST_SETS)
    # CTC models: ctc_lexicon_lm, ctc_greedy; U2++: attention_rescoring, prefix beam, streaming
    assert results.count(header + " | **average** | decode RTF |") == 5
    assert "### Decoding: `ctc_lexicon_lm`" in results and "### Decoding: `ctc_greedy`" in results
    assert "### Decoding: `chunk4/streaming` (audio fed chunk by chunk" in results
    u2pp_rows = re.findall(r"^\| u2pp_moe \| [\d.]+M / [\d.]+M \|", results, re.M)
    assert len(u2pp_rows) == 3
    for model in ("dense", "omni"):
        rows = re.findall(rf"^\| {model} \| [\d.]+M / [\d.]+M \|(.*)\|$", results, re.M)
        assert len(rows) == 2, model
        assert all(len(row.split("|")) == len(TEST_SETS) + 2 for row in rows), model
    assert "- omni vs dense:" in results and "95% bootstrap CI" in results
    for model in ("dense", "omni"):
        own_results = (tmp_path / "exp" / f"asr_{model}" / "RESULTS.md").read_text()
        assert len(re.findall(rf"^\| {model} \|", own_results, re.M)) == 2, model
        packed = tmp_path / "exp" / f"asr_{model}" / "packed"
        assert (packed / f"espeak_en_asr_{model}.zip").is_file()
        card = (packed / f"espeak_en_asr_{model}_hf" / "README.md").read_text()
        assert f'Speech2Text.from_pretrained("tester/espeak_en_{model}")' in card
        assert (packed / f"espeak_en_asr_{model}_hf" / "exp" / "lm_word3gram" / "lm.arpa").is_file()
        assert (tmp_path / "exp" / f"asr_{model}" / "routing" / "routing_stats.json").is_file()
        tuning = tmp_path / "exp" / f"asr_{model}" / "decode" / "lm_tuning.json"
        assert len(json.loads(tuning.read_text())["grid"]) == 12  # 4 LM weights x 3 word scores
    assert "`ctc_lexicon_lm` LM weight / word score chosen on the held-out set: dense " in results
    assert (tmp_path / "figures" / "routing_association.png").stat().st_size > 0
    assert "## Routing and training figures" in results  # stage 8 shows them in RESULTS.md
    assert "](figures/routing_association.png)" in results
    stages = (tmp_path / "exp" / "stage_times.tsv").read_text()
    assert [line.split("\t")[0] for line in stages.splitlines()] == [*"12345556667", "8", *"999"]
    # A re-run skips the finished trainings instead of redoing them.
    rerun = subprocess.run(
        [*command, "--stage", "5", "--stop_stage", "5"], capture_output=True, text=True
    )
    assert rerun.returncode == 0 and rerun.stdout.count("already trained, skipping") == 3
    # Resumed from its checkpoint, a training keeps the earlier run's log (as ESPnet's launch).
    dense = tmp_path / "exp" / "asr_dense"
    (dense / "valid.loss.ave.pth").unlink()
    resumed = subprocess.run(
        [*command, "--stage", "5", "--stop_stage", "5", "--models", "dense"],
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    log = (dense / "train.log").read_text()
    assert "The training was resumed using" in log
    earlier = (dense / "train.1.log").read_text()
    assert re.findall(r"(\d)epoch results: \[train\]", earlier) == ["1", "2"]
    assert len(read_training_log(dense / "train.log").epochs) == 2


def test_frontend_option_derives_each_config_with_kaldi_fbank(tmp_path):
    import yaml

    command = ["bash", str(RECIPE / "run.sh"), "--setup", "false", "--stage", "5",
               "--stop_stage", "4", "--exp_dir", str(tmp_path / "exp"),
               "--models", "dense u2pp_moe", "--frontend"]  # fmt: skip
    result = subprocess.run([*command, "kaldi_fbank"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    for model in ("dense", "u2pp_moe"):
        derived = tmp_path / "exp" / "conf" / f"train_{model}_kaldi_fbank.yaml"
        config = yaml.safe_load(derived.read_text())
        original = yaml.safe_load((RECIPE / "conf" / f"train_{model}.yaml").read_text())
        assert config.pop("frontend") == "kaldi_fbank" and original.pop("frontend") == "default"
        assert config.pop("frontend_conf") == {"n_mels": 80, "fs": 16000}
        original.pop("frontend_conf")
        assert config == original  # nothing else changes
    refused = subprocess.run([*command, "stft"], capture_output=True, text=True)
    assert refused.returncode != 0 and "--frontend stft: kaldi_fbank" in refused.stderr
