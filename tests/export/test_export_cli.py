"""bin/export from a packed archive (sentencepiece tokens) and its errors; the runtime
decodes the export like the eager model."""

import subprocess
import sys
from pathlib import Path

import pytest
import sentencepiece
import torch
import yaml
from conftest import make_experiment
from onnx_models import load

from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.runtime.decoding import decode
from espnet_omnirouter.runtime.exported_model import ExportedModel

pytestmark = pytest.mark.e2e


def bpe_experiment(root: Path) -> Path:
    """``make_experiment``'s omni model with sentencepiece tokens (a char model over a, b)."""
    exp = make_experiment(root, "omni")
    (root / "text.txt").write_text("ab ba aab bab\n" * 20)
    sentencepiece.SentencePieceTrainer.Train(
        input=str(root / "text.txt"), model_prefix=str(root / "bpe"), vocab_size=6,
        model_type="char", character_coverage=1.0,
    )  # fmt: skip
    config = yaml.safe_load((exp / "config.yaml").read_text())
    config.update(token_type="bpe", bpemodel=str(root / "bpe.model"))
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    return exp


def run(module: str, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"espnet_omnirouter.bin.{module}", *args],
        capture_output=True, text=True, cwd=cwd,
    )  # fmt: skip


def test_exports_a_packed_model_that_the_runtime_decodes_as_eager(tmp_path):
    exp = bpe_experiment(tmp_path)
    archive = tmp_path / "packed" / "omni.zip"
    packing = run("pack_model", "--exp_dir", str(exp), "--outpath", str(archive), cwd=tmp_path)
    assert packing.returncode == 0, packing.stderr[-3000:]
    result = run(
        "export", "--model", str(archive), "--cache_dir", str(tmp_path / "zoo"),
        "--output_dir", str(tmp_path / "onnx"), "--max_frames", "500", cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "encoder.onnx: ONNX Runtime matches eager" in result.stdout
    runtime = ExportedModel(tmp_path / "onnx")
    assert runtime.description["token_type"] == "bpe"
    assert (tmp_path / "onnx" / "bpe.model").is_file()
    assert (tmp_path / "onnx" / "omnirouter_runtime" / "transcribe.py").is_file()
    speech2text = load(exp)
    samples = torch.sin(torch.arange(9000) * 0.07) * torch.sin(torch.arange(9000) * 0.002)
    with torch.no_grad():
        expected = decode(EagerModel(speech2text), samples.numpy(), "ctc_greedy")
    assert expected and decode(runtime, samples.numpy()) == expected
    with pytest.raises(ValueError, match="longer than the export's max_frames=500"):
        runtime.encode(runtime.features(samples.repeat(60).numpy()))


def test_errors_name_the_model_and_the_unsupported_part(tmp_path):
    exp = make_experiment(tmp_path, "switch")
    config = yaml.safe_load((exp / "config.yaml").read_text())
    config.update(token_type="word")
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    result = run("export", "--model", str(exp), "--output_dir", str(tmp_path / "o"), cwd=tmp_path)
    assert result.returncode == 5
    assert f"export: {exp}: token_type 'word'" in result.stderr
    missing = run("export", "--model", str(tmp_path / "nothing"), "--output_dir", "o", cwd=tmp_path)
    assert missing.returncode == 4 and "nothing" in missing.stderr
