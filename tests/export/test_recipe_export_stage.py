"""Stage 11 of egs/espeak_en/asr1/run.sh: export a trained model and transcribe test_clean
utterances with the runtime."""

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile
from conftest import make_experiment

pytestmark = pytest.mark.e2e

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "espeak_en" / "asr1"


def test_stage_11_exports_and_checks_with_the_runtime(tmp_path):
    exp = make_experiment(tmp_path, "omni")
    test_clean = tmp_path / "data" / "test_clean"
    test_clean.mkdir(parents=True)
    rng = np.random.default_rng(0)
    scp, text = [], []
    for index in range(3):
        wav = tmp_path / f"u{index}.wav"
        soundfile.write(wav, (0.1 * rng.standard_normal(6000)).astype(np.float32), 8000)
        scp.append(f"u{index} {wav}\n")
        text.append(f"u{index} a b\n")
    (test_clean / "wav.scp").write_text("".join(scp))
    (test_clean / "text").write_text("".join(text))
    result = subprocess.run(
        ["bash", "run.sh", "--stage", "11", "--stop_stage", "11", "--models", "omni",
         "--exp_dir", str(exp.parent), "--data_dir", str(tmp_path / "data"),
         "--export_check_utts", "2"],
        cwd=RECIPE, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "=== stage 11: ONNX export: omni" in result.stdout
    assert "encoder.onnx: ONNX Runtime matches eager" in result.stdout
    assert "reference: u1 a b" in result.stdout
    records = [json.loads(line) for line in (exp / "onnx" / "check.jsonl").read_text().splitlines()]
    assert [record["id"] for record in records] == ["u0", "u1"]
    times = (exp.parent / "stage_times.tsv").read_text()
    assert "11\texport_omni\t" in times
