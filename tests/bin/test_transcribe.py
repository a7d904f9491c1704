"""The transcribe CLI: output files, texts of any audio, its errors and exit codes (the audio
loader itself: tests/runtime/test_audio.py)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile
import torch

from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.runtime.audio import load_audio
from espnet_omnirouter.runtime.decoding import decode

SAMPLE_RATE = 8000


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 3 * t)
    return np.stack([mono] * channels, axis=1).astype(np.float32)


def transcribe(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "espnet_omnirouter.bin.transcribe", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},  # a hub id must fail fast here
    )


@pytest.mark.e2e
def test_transcribes_any_rate_and_channels_like_the_batch_decoder(experiment, tmp_path):
    soundfile.write(tmp_path / "a.wav", tone(0.6, SAMPLE_RATE), SAMPLE_RATE)
    soundfile.write(tmp_path / "b.flac", tone(0.8, 16000, channels=2), 16000)
    text, jsonl = tmp_path / "out" / "text", tmp_path / "out" / "result.jsonl"
    result = transcribe(
        "--model", str(experiment), "--output_text", str(text), "--output_jsonl", str(jsonl),
        str(tmp_path / "a.wav"), str(tmp_path / "b.flac"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    printed = dict((line + " ").split(" ", 1) for line in result.stdout.splitlines())
    printed = {utt: text.strip() for utt, text in printed.items()}
    assert sorted(printed) == ["a", "b"]
    assert text.read_text() == "".join(f"{u} {printed[u]}\n" for u in ["a", "b"])
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [r["id"] for r in records] == ["a", "b"] and records[1]["duration"] == 0.8
    assert all(r["rtf"] > 0 for r in records)
    # Other libraries' notices are logged, not printed (OMNIROUTER_LOG_LEVEL=DEBUG shows them).
    for notice in ("FutureWarning", "Set decoder to none"):
        assert notice not in result.stderr, notice
    # Same text as the recipe's batch decoder on the same (resampled, mixed) samples.
    speech2text = load_speech2text(experiment / "config.yaml", experiment / "valid.loss.ave.pth", 1)
    speech2text.asr_model.eval()
    waves = [torch.from_numpy(load_audio(tmp_path / n, SAMPLE_RATE)) for n in ["a.wav", "b.flac"]]
    with torch.no_grad():
        expected = [decode(EagerModel(speech2text), w.numpy(), "ctc_greedy") for w in waves]
    assert [printed["a"], printed["b"]] == expected


@pytest.mark.e2e
def test_bad_audio_is_reported_and_the_rest_transcribed(experiment, tmp_path):
    soundfile.write(tmp_path / "good.wav", tone(0.5, SAMPLE_RATE), SAMPLE_RATE)
    soundfile.write(tmp_path / "empty.wav", np.zeros((0, 1), np.float32), SAMPLE_RATE)
    (tmp_path / "broken.wav").write_bytes(b"RIFF1234WAVEjunk")
    soundfile.write(tmp_path / "short.wav", tone(0.005, SAMPLE_RATE), SAMPLE_RATE)
    names = ["missing.wav", "broken.wav", "empty.wav", "short.wav", "good.wav"]
    files = [tmp_path / n for n in names]
    result = transcribe("--model", str(experiment), *map(str, files))
    assert result.returncode == 3  # two files could not be read
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["empty", "short", "good"]
    assert lines[0].strip() == "empty" and lines[1].strip() == "short"  # empty hypotheses
    for expected in ["not found: " + str(files[0]), "cannot read audio from " + str(files[1])]:
        assert expected in result.stderr
    assert f"{files[2]}: 0 samples, fewer than the model's minimum" in result.stderr


@pytest.mark.e2e
def test_unloadable_models_exit_4_with_the_reason(experiment, tmp_path):
    soundfile.write(tmp_path / "a.wav", tone(0.5, SAMPLE_RATE), SAMPLE_RATE)
    audio = str(tmp_path / "a.wav")
    no_checkpoint = tmp_path / "no_checkpoint"
    no_checkpoint.mkdir()
    (no_checkpoint / "config.yaml").write_text((experiment / "config.yaml").read_text())
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    cases = {
        str(no_checkpoint): "is not a model dir: it needs config.yaml and one of",
        str(tmp_path / "bad.zip"): "cannot load archive",
        "nobody/no_such_model": "cannot load model (not a dir, archive or cached zoo id)",
        str(tmp_path / "nonexistent.zip"): "nonexistent.zip: no such file or directory",
    }
    for model, message in cases.items():
        result = transcribe("--model", model, audio)
        assert result.returncode == 4 and message in result.stderr, (model, result.stderr[-2000:])
    result = transcribe("--model", str(experiment), "--mode", "ctc_lexicon_lm", audio)
    assert result.returncode == 2 and "needs --lm_dir" in result.stderr
