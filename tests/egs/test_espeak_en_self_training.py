"""The default recipe's self-training stage (12) on a tiny run: the pool is made, labelled,
scored against its withheld text, joined to the training set, and a model is retrained,
decoded and compared with the one before."""

import json
import re
import subprocess
from pathlib import Path

import pytest
from conftest import TINY_RECIPE_ENCODER_ARGS

from espnet_omnirouter.data.kaldi_dir import validate_data_dir
from espnet_omnirouter.scoring.wer import read_kaldi_text
from espnet_omnirouter.utils.stage_times import read_stage_times

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "espeak_en" / "asr1"
NUM_POOL = 12


def run_recipe(tmp_path: Path, *options: str) -> subprocess.CompletedProcess:
    command = [
        "bash", str(RECIPE / "run.sh"), "--num_train", "40", "--num_dev", "8", "--num_test", "4",
        "--vocab_size", "60", "--models", "dense", "--test_sets", "test_clean test_fast",
        "--data_dir", str(tmp_path / "data"), "--exp_dir", str(tmp_path / "exp"),
        "--results_file", str(tmp_path / "RESULTS.md"), "--figures_dir", str(tmp_path / "fig"),
        # A model that stays near its random initialisation emits tokens (a tiny trained one
        # emits only blanks here), so that some pool utterances get a pseudo-label.
        "--train_args",
        f"--max_epoch 1 --batch_size 8 --optim_conf lr=0.000001 {TINY_RECIPE_ENCODER_ARGS}",
        "--num_pool", str(NUM_POOL),
        "--pl_keep_fraction", "0.5", *options,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


@pytest.mark.e2e
def test_self_training_stage_labels_the_pool_retrains_and_compares(tmp_path):
    run_recipe(tmp_path, "--stop_stage", "7")  # without --self_train: no pool, no stage 12
    data, exp = tmp_path / "data", tmp_path / "exp"
    assert not (data / "pool").exists()
    assert "Self-training" not in (tmp_path / "RESULTS.md").read_text()

    result = run_recipe(tmp_path, "--stage", "12", "--self_train", "true")
    assert validate_data_dir(data / "pool") == NUM_POOL  # made here, with its withheld text
    labels = data / "pool_pl_dense"
    kept = read_kaldi_text(labels / "text")
    assert 0 < len(kept) <= NUM_POOL // 2 and set(kept) <= set(read_kaldi_text(data / "pool/text"))
    assert set(read_kaldi_text(labels / "confidence")) == set(kept)
    assert validate_data_dir(data / "train_st_dense") == 40 + len(kept)
    scores = json.loads((exp / "asr_dense_st" / "pseudo_labels.json").read_text())
    assert scores["pool"] == NUM_POOL
    assert [level["keep_fraction"] for level in scores["levels"]] == [1.0, 0.8, 0.5]
    counts = [level["utterances"] for level in scores["levels"]]
    assert counts == sorted(counts, reverse=True) and counts[-1] == len(kept)
    assert (exp / "asr_dense_st" / "valid.loss.ave.pth").is_file()
    assert "pseudo-labelling data/pool" in result.stdout.replace(str(tmp_path) + "/", "")

    results = (tmp_path / "RESULTS.md").read_text()
    section = results[results.index("## Self-training on pseudo-labels") :]
    assert "| dense |" in section and "pseudo-label WER, top 50%" in section
    row = next(line for line in section.splitlines() if line.startswith("| dense |"))
    assert re.search(r" \| [+-]\d+\.\d% \[[+-]\d+\.\d, [+-]\d+\.\d\] \| ", row)  # change, CI
    assert "| dense | agreement |" in section and "| dense | oracle |" in section
    wall_time = re.search(r"Wall time of the self-training stage .*; total (\d+)m(\d+)s", section)
    assert wall_time and "dense: pseudo-labelling" in wall_time.group(0)
    steps = [time.step for time in read_stage_times(exp / "stage_times.tsv")]
    assert {"pool_data", "pseudo_label_dense", "train_dense_st", "decode_dense_st"} <= set(steps)
    assert "- dense_st vs dense:" in results  # the bootstrap comparison of before and after
    assert "| dense_st |" in results  # in the tables of every test set
