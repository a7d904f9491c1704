"""The default recipe's data stage is reproducible: the same seed gives bit-identical audio
and transcripts, whatever number of jobs synthesised it; another seed other data."""

import hashlib
import importlib.util
import subprocess
from pathlib import Path
from typing import Dict

import pytest

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "espeak_en" / "asr1"
SIZES = ["--num_train", "6", "--num_dev", "2", "--num_test", "2"]


def contents(data_dir: Path) -> Dict[str, str]:
    """sha256 of every file of the data dirs (logs left out), wav.scp with its paths made
    relative to ``data_dir``."""
    digests = {}
    for path in sorted(data_dir.rglob("*")):
        relative = path.relative_to(data_dir)
        if not path.is_file() or relative.parts[0] == "log":
            continue
        data = path.read_bytes()
        if path.name == "wav.scp":
            data = data.replace(str(data_dir.resolve()).encode(), b"DATA")
        digests[str(relative)] = hashlib.sha256(data).hexdigest()
    return digests


def load_prepare_data():
    spec = importlib.util.spec_from_file_location("prepare_data", RECIPE / "local/prepare_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.e2e
def test_the_same_seed_gives_identical_data_with_any_number_of_jobs(tmp_path):
    for name, jobs in (("two_jobs", "2"), ("one_job", "1")):
        subprocess.run(
            ["bash", "local/data.sh", "--data_dir", str(tmp_path / name), *SIZES, "--nj", jobs],
            cwd=RECIPE, check=True, capture_output=True,
        )  # fmt: skip
    first, second = contents(tmp_path / "two_jobs"), contents(tmp_path / "one_job")
    assert sum(name.endswith(".wav") for name in first) == 6 + 2 + 8 * 2
    assert first == second


def test_another_seed_makes_other_utterances():
    prepare_data = load_prepare_data()

    def jobs(seed: int) -> list:
        texts = prepare_data.split_sentences(num_dev=2, num_test=2, seed=seed)["train"]
        return prepare_data.make_jobs("train", texts, 20, prepare_data.TRAINING, Path("w"), seed)

    assert jobs(0) == jobs(0) and jobs(0) != jobs(1)
