"""The LibriSpeech recipe end to end on a fabricated miniature LibriSpeech (espeak-ng speech
in OpenSLR's layout) with a tiny model, out-of-domain stage included, as a non-root user in an
environment where the plugin is installed from its wheel and no project venv exists."""

import re
import subprocess
import zipfile
from pathlib import Path

import pytest
from corpora.fabricate_librispeech import fabricate_librispeech

from espnet_omnirouter.data.kaldi_dir import validate_data_dir

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "librispeech" / "asr1"
PARTS = ["train-clean-100", "dev-clean", "dev-other", "test-clean", "test-other"]


def run_recipe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", str(RECIPE / "run.sh"), *args], capture_output=True, text=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--train_set", "50"], "--train_set must be 100 or 960, not '50'"),
        (["--stop_stage", "1"], "stage 1 needs --data_root (the directory holding LibriSpeech/)"),
        (["--models", "dense large"], "no config conf/train_large.yaml"),
    ],
)
def test_wrong_options_are_refused_before_any_work(tmp_path, args, message):
    result = run_recipe("--exp_dir", str(tmp_path / "exp"), *args)
    assert result.returncode != 0 and message in result.stderr
    assert not list(tmp_path.glob("exp/asr_*"))


@pytest.mark.e2e
def test_tiny_run_through_every_stage(user_environment):
    work = user_environment.work / "librispeech"
    fabricate_librispeech(work / "corpus", PARTS, utterances_per_speaker=3)
    user_environment.give(work)
    result = user_environment.run(
        ["bash", str(RECIPE / "run.sh"),
         "--data_root", str(work / "corpus"),
         "--asr_config", "conf/tuning/train_tiny.yaml",
         "--ngpu", "0",
         "--nj", "2",
         "--nbpe", "30",
         "--train_args", "--max_epoch 1",
         "--test_sets", "test_clean test_other",
         "--data_dir", str(work / "data"),
         "--exp_dir", str(work / "exp"),
         "--results_file", str(work / "RESULTS.md"),
         "--ood_results_file", str(work / "RESULTS_ood.md")],
        cwd=work,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    venv = user_environment.venv
    assert f"=== python: {venv}/bin/python (espnet_omnirouter: {venv}/lib/" in result.stdout
    assert not list((user_environment.work / "no_project_venv").iterdir())  # nothing built
    written_by_root = (work / "RESULTS.md").stat().st_uid == 0
    assert written_by_root == bool(user_environment.non_root_reason)
    for name, count in [("train_clean_100", 6), ("dev", 12), ("test_clean", 6), ("test_other", 6)]:
        assert validate_data_dir(work / "data" / name, sample_rate=16000) == count, name
    # Progress on the console: data preparation, each epoch, each test set of each job.
    assert "[format] " in result.stdout
    assert re.search(r"^\[train\] epoch 1/1: train loss [\d.]+.*; valid loss", result.stdout, re.M)
    assert "[decode] test_other (job 2/2): 3 utterances" in result.stdout
    # The recipe's own table: both test sets and their average, in both decoding modes.
    results = (work / "RESULTS.md").read_text()
    header = "| model | params (total / active) | test_clean | test_other | **average** |"
    assert results.count(header) == 2
    assert (
        len(
            re.findall(
                r"^\| tiny \| [\d.]+M / [\d.]+M \|( [\d.]+ \|){2} \*\*[\d.]+\*\* \|", results, re.M
            )
        )
        == 2
    )
    # The out-of-domain table: LibriSpeech's two benchmarks (the only corpus given) and the average.
    ood = (work / "RESULTS_ood.md").read_text()
    assert "| model | params (total / active) | LS clean | LS other | **average** |" in ood
    assert re.search(
        r"^\| tiny \| [\d.]+M / [\d.]+M \| [\d.]+ \| [\d.]+ \| \*\*[\d.]+\*\* \|", ood, re.M
    )
    assert "[prepare] tedlium_test: skipped (no --tedlium_root)" in result.stdout
    packed = work / "exp" / "asr_tiny" / "packed" / "librispeech_asr_tiny.zip"
    names = zipfile.ZipFile(packed).namelist()
    assert "exp/asr_tiny/config.yaml" in names and any(n.endswith(".pth") for n in names)
    stages = (work / "exp" / "stage_times.tsv").read_text()
    assert [line.split("\t")[0] for line in stages.splitlines()] == [
        "1", "2", "4", "5", "6", "7", "9", "13"
    ]  # fmt: skip
