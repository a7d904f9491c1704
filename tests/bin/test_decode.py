"""bin/decode: the modes chosen from the model, and --num_jobs shares merged into what one
job writes."""

import json
import sys

import numpy as np
import pytest
import soundfile

from espnet_omnirouter.bin import decode as decode_cli
from espnet_omnirouter.data.kaldi_dir import Utterance, write_data_dir
from espnet_omnirouter.scoring.wer import read_kaldi_text

pytestmark = pytest.mark.e2e


@pytest.fixture
def data_dirs(tmp_path):
    """Two sets of 8 kHz noise, 3 and 4 utterances."""
    rng = np.random.default_rng(0)
    dirs = []
    for name, count in (("set_a", 3), ("set_b", 4)):
        utterances = []
        for index in range(count):
            path = tmp_path / "audio" / f"{name}_{index}.wav"
            path.parent.mkdir(exist_ok=True)
            audio = (0.1 * rng.standard_normal(3000 + 700 * index)).astype(np.float32)
            soundfile.write(path, audio, 8000)
            utterances.append(Utterance(f"{name}-{index}", "s", str(path), "a b"))
        write_data_dir(utterances, tmp_path / name)
        dirs.append(tmp_path / name)
    return dirs


def decode(monkeypatch, experiment, data_dirs, output_dir, *options):
    # One utterance per batch: the texts do not depend on how the sets are shared.
    argv = [
        *map(str, data_dirs),
        "--asr_train_config",
        str(experiment / "config.yaml"),
        "--asr_model_file",
        str(experiment / "valid.loss.ave.pth"),
        "--output_dir",
        str(output_dir),
        "--nj",
        "1",
        "--batch_seconds",
        "0",
        *options,
    ]  # fmt: skip  (one utterance per batch: texts independent of how a set is shared)
    monkeypatch.setattr(sys, "argv", ["decode", *argv])
    decode_cli.main()


def test_auto_modes_and_jobs_merged_like_one_run(experiment, data_dirs, tmp_path, monkeypatch):
    # A CTC-only model: auto is ctc_greedy (no --lm_dir); streaming is for U2++ models only.
    whole = tmp_path / "whole"
    decode(monkeypatch, experiment, data_dirs, whole, "--streaming_chunk_size", "4")
    assert json.loads((whole / "decoding.json").read_text()) == {"modes": ["ctc_greedy"]}
    assert sorted(p.name for p in whole.iterdir()) == ["ctc_greedy", "decoding.json"]
    shared = tmp_path / "shared"
    for job in ("1", "2"):
        decode(monkeypatch, experiment, data_dirs, shared, "--num_jobs", "2", "--job", job)
    assert len(read_kaldi_text(shared / "jobs/1/ctc_greedy/set_b/text")) == 2
    monkeypatch.setattr(sys, "argv", ["decode", "--merge_jobs", "2", "--output_dir", str(shared)])
    decode_cli.main()
    for data_dir in data_dirs:
        merged = shared / "ctc_greedy" / data_dir.name
        assert (merged / "text").read_text() == (
            whole / "ctc_greedy" / data_dir.name / "text"
        ).read_text()
        assert float((merged / "rtf").read_text()) > 0
    assert (shared / "decoding.json").read_text() == (whole / "decoding.json").read_text()


def test_merge_names_an_unfinished_job(tmp_path, monkeypatch, capsys):
    (tmp_path / "jobs" / "1").mkdir(parents=True)
    (tmp_path / "jobs" / "1" / "decoding.json").write_text('{"modes": []}')
    monkeypatch.setattr(sys, "argv", ["decode", "--merge_jobs", "2", "--output_dir", str(tmp_path)])
    with pytest.raises(SystemExit):
        decode_cli.main()
    assert f"{tmp_path}/jobs/2: no decoding.json: the job did not finish" in capsys.readouterr().err
