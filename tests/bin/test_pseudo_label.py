"""The pseudo_label CLI: inputs of every kind, segmentation, filtering, resume after a kill,
bad input and refused work dirs."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import soundfile
import torch

from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.bin.pseudo_label import select
from espnet_omnirouter.data.kaldi_dir import Utterance, validate_data_dir, write_data_dir
from espnet_omnirouter.runtime.audio import load_audio
from espnet_omnirouter.runtime.decoding import decode
from espnet_omnirouter.scoring.wer import read_kaldi_text

RATE = 8000  # the tiny experiment's


def tones(rng, seconds, pitch, rate=RATE):
    t = np.arange(int(seconds * rate)) / rate
    return (0.4 * np.sin(2 * np.pi * pitch * t) + 0.002 * rng.standard_normal(len(t))).astype(
        np.float32
    )


def long_recording(rng, count):
    """``count`` tone utterances of 0.6 s with 0.7 s pauses: (audio, speech spans in s)."""
    parts, spans, position = [], [], 0.0
    for index in range(count):
        parts += [0.002 * rng.standard_normal(int(0.7 * RATE)), tones(rng, 0.6, 400 + 90 * index)]
        spans.append((position + 0.7, position + 1.3))
        position += 1.3
    parts.append(0.002 * rng.standard_normal(int(0.7 * RATE)))
    return np.concatenate(parts).astype(np.float32), spans


def pseudo_label(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "espnet_omnirouter.bin.pseudo_label", *map(str, args)],
        capture_output=True, text=True, **kwargs,
    )  # fmt: skip


def test_filters_keep_the_most_confident_labelled_utterances():
    records = [
        {"utt": f"u{i}", "text": "a b" if i != 3 else "", "ctc": c, "agreement": a}
        for i, (c, a) in enumerate([(0.9, 0.5), (0.6, 1.0), (0.8, 1.0), (0.99, 1.0), (0.7, 0.0)])
    ]
    kept, scores = select(records, "ctc", None, 0.5)  # half of the 4 labelled ones
    assert [r["utt"] for r in kept] == ["u0", "u2"] and "u3" not in scores
    kept, _ = select(records, "both", 0.6, None)
    assert [r["utt"] for r in kept] == ["u2", "u1"]  # 0.8, 0.6; u0: 0.45, u4: 0
    kept, _ = select(records, "agreement", 0.5, 0.25)
    assert [r["utt"] for r in kept] == ["u1"]  # ties broken by id
    assert len(select(records, "ctc", None, None)[0]) == 4


@pytest.mark.e2e
def test_bad_audio_and_a_missing_model_stop_before_anything_is_written(experiment, tmp_path):
    good, broken = tmp_path / "good.wav", tmp_path / "broken.wav"
    soundfile.write(good, tones(np.random.default_rng(0), 0.5, 440), RATE)
    broken.write_bytes(b"not audio")
    output = tmp_path / "out"
    result = pseudo_label(
        "--model", experiment, "--output_dir", output, good, broken, tmp_path / "missing.flac"
    )
    assert result.returncode == 3, result.stderr[-2000:]
    assert f"pseudo_label: cannot read audio from {broken}" in result.stderr  # as transcribe's
    assert f"pseudo_label: audio file not found: {tmp_path / 'missing.flac'}" in result.stderr
    assert "2 audio files cannot be read: nothing decoded or written" in result.stderr
    assert not output.exists() and not (tmp_path / "out.work").exists()
    result = pseudo_label("--model", tmp_path / "nowhere", "--output_dir", output, good)
    assert result.returncode == 4 and "no such file or directory" in result.stderr
    result = pseudo_label("--model", experiment, "--output_dir", output, tmp_path / "empty_dir")
    assert result.returncode == 3 and "audio file not found" in result.stderr
    (tmp_path / "empty_dir").mkdir()
    result = pseudo_label("--model", experiment, "--output_dir", output, tmp_path / "empty_dir")
    assert result.returncode == 2 and "no audio files (or wav.scp) under it" in result.stderr
    assert not output.exists()


@pytest.mark.e2e
def test_resumes_after_a_kill_segments_long_audio_and_refilters(experiment, tmp_path):
    rng = np.random.default_rng(0)
    folder = tmp_path / "folder"
    (folder / "sub").mkdir(parents=True)
    soundfile.write(folder / "a.wav", tones(rng, 0.7, 440), RATE)
    stereo = np.stack([tones(rng, 0.9, 600, rate=16000)] * 2, axis=1)
    soundfile.write(folder / "sub" / "b.flac", stereo, 16000)
    long_audio, spans = long_recording(rng, 4)  # 5.9 s, cut at its pauses (max 3 s)
    soundfile.write(folder / "long.wav", long_audio, RATE)
    (folder / "notes.txt").write_text("not audio, not taken")
    # A data dir without transcripts whose second recording's command waits for a file:
    # the run is killed while it waits, after the folder's shard (7 s of audio) is written.
    soundfile.write(tmp_path / "c.wav", tones(rng, 0.8, 500), RATE)
    soundfile.write(tmp_path / "d.wav", tones(rng, 0.6, 700), RATE)
    go = tmp_path / "go"
    blocked = f"while [ ! -f {go} ]; do sleep 0.1; done; cat {tmp_path / 'd.wav'} |"
    data = tmp_path / "untranscribed"
    utterances = [
        Utterance("c", "spk1", str(tmp_path / "c.wav"), None),
        Utterance("d", "spk2", blocked, None),
    ]
    write_data_dir(utterances, data)
    assert not (data / "text").exists() and validate_data_dir(data, require_text=False) == 2
    output = tmp_path / "out"
    command = [
        sys.executable, "-m", "espnet_omnirouter.bin.pseudo_label", "--model", str(experiment),
        "--output_dir", str(output), "--max_segment_seconds", "3", "--shard_seconds", "7",
        "--nj", "1", str(folder), str(data),
    ]  # fmt: skip
    run = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE, text=True)
    first_shard = output.with_name("out.work") / "shards" / "00001.jsonl"
    try:
        deadline = time.time() + 300
        while not first_shard.is_file() and run.poll() is None and time.time() < deadline:
            time.sleep(0.2)
        assert first_shard.is_file() and run.poll() is None
        time.sleep(1)  # the worker now waits inside shard 2's pipe
    finally:
        os.killpg(run.pid, signal.SIGKILL)
        run.wait()
    assert not output.exists()  # nothing half-written
    shards = sorted(p.name for p in first_shard.parent.iterdir())
    assert shards == ["00001.jsonl"]
    stamp = first_shard.stat().st_mtime_ns

    go.touch()
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 shards: 1 done before, 1 to do" in result.stdout
    assert "[pseudo_label] shard 2/2: 2 utterances" in result.stdout
    assert first_shard.stat().st_mtime_ns == stamp  # the finished shard was not redone
    records = [
        json.loads(line)
        for shard in sorted(first_shard.parent.iterdir())
        for line in shard.read_text().splitlines()
    ]
    by_id = {record["utt"]: record for record in records}
    segments = sorted(utt for utt in by_id if utt.startswith("long-"))
    assert len(segments) == 4  # one per utterance of the long recording
    for utt, (speech_start, speech_end) in zip(segments, spans):
        record = by_id[utt]
        assert record["start"] <= speech_start and speech_end <= record["end"] <= 5.9
        assert soundfile.info(record["wav"]).duration == pytest.approx(record["duration"])
    assert sorted(set(by_id) - set(segments)) == ["a", "b", "c", "d"]
    assert by_id["a"]["wav"] == str(folder / "a.wav")  # at the model's rate: in place
    converted = soundfile.info(by_id["b"]["wav"])  # 16 kHz stereo -> the model's 8 kHz mono
    assert converted.samplerate == RATE and converted.channels == 1
    assert by_id["c"]["speaker"] == "spk1" and by_id["d"]["speaker"] == "spk2"
    assert all(0 <= r["ctc"] <= 1 and r["agreement"] == 1.0 for r in records)  # greedy mode
    # The pseudo-label is the model's CTC greedy text of the resampled audio.
    speech2text = load_speech2text(experiment / "config.yaml", experiment / "valid.loss.ave.pth", 1)
    speech2text.asr_model.eval()
    wave = torch.from_numpy(load_audio(folder / "sub" / "b.flac", RATE))
    with torch.no_grad():
        expected = decode(EagerModel(speech2text), wave.numpy(), "ctc_greedy")
    assert by_id["b"]["text"] == expected

    labelled = sorted(r["utt"] for r in records if r["text"])
    assert labelled, "the tiny model gave every utterance an empty text"
    assert validate_data_dir(output) == len(labelled)
    assert sorted(read_kaldi_text(output / "text")) == labelled
    confidence = read_kaldi_text(output / "confidence")
    assert {utt: float(value) for utt, value in confidence.items()} == {
        utt: by_id[utt]["ctc"] for utt in labelled
    }
    assert f"kept {len(labelled)} of 8 utterances (no filter;" in result.stdout

    # Another filter: the data dir is rewritten from the shards, nothing is decoded.
    result = subprocess.run([*command, "--keep_fraction", "0.5"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "2 shards: 2 done before, 0 to do" in result.stdout
    best = sorted(labelled, key=lambda utt: (-by_id[utt]["ctc"], utt))
    assert sorted(read_kaldi_text(output / "text")) == sorted(best[: round(len(labelled) / 2)])
    # Another decoding in the same work dir is refused.
    result = subprocess.run(
        [*command, "--mode", "ctc_prefix_beam_search"], capture_output=True, text=True
    )
    assert result.returncode == 2 and "holds a run with other decoding" in result.stderr
