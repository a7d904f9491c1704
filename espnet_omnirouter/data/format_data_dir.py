"""Per-utterance audio for a Kaldi data dir, at one sample rate, mono (what ESPnet's
``format_wav_scp.sh`` does for its recipes).

A source dir's wav.scp may list files or Kaldi ``cmd |`` pipes (one channel of a
multi-channel file, a decoder such as sph2pipe), and a ``segments`` file may cut
utterances out of longer recordings. The formatted dir lists one file per utterance:
files already at the rate, mono and whole (LibriSpeech's flac) are referenced in place;
the others are read once per recording, mixed down, resampled, cut and written as
16-bit wavs under ``<target>_audio/``.
"""

import io
import multiprocessing
import subprocess
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import soundfile

from espnet_omnirouter.data.kaldi_dir import (
    DataDirError,
    Utterance,
    validate_data_dir,
    write_data_dir,
)
from espnet_omnirouter.data.validation import read_table
from espnet_omnirouter.runtime.audio import mono_at_rate

# utt -> (recording, start seconds, end seconds or None for the whole recording)
Segments = Dict[str, Tuple[str, float, Optional[float]]]


def read_recording(entry: str) -> Tuple[np.ndarray, int]:
    """(#samples, #channels) float32 audio and its rate, of a wav.scp entry: a file
    libsndfile reads, or a shell pipe ``cmd |`` that writes a wav to stdout."""
    if entry.endswith("|"):
        result = subprocess.run(entry[:-1], shell=True, capture_output=True)
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip().splitlines()[-1:]
            raise DataDirError(f"'{entry}' failed (exit {result.returncode}): {message}")
        return soundfile.read(io.BytesIO(result.stdout), dtype="float32", always_2d=True)
    return soundfile.read(entry, dtype="float32", always_2d=True)


def usable_in_place(entry: str, sample_rate: int) -> bool:
    """Whether the wav.scp ``entry`` is a file at ``sample_rate``, mono (no copy needed)."""
    if entry.endswith("|"):
        return False
    info = soundfile.info(entry)
    return info.samplerate == sample_rate and info.channels == 1


def _cut_recording(
    job: Tuple[str, List[Tuple[str, float, Optional[float]]], Path, int],
) -> List[Tuple[str, str]]:
    """Write the utterances of one recording; returns (utt, wav path) pairs."""
    entry, cuts, audio_dir, sample_rate = job
    samples, rate = read_recording(entry)
    audio = mono_at_rate(samples, rate, sample_rate)
    written = []
    for utt, start, end in cuts:
        first = int(round(start * sample_rate))
        last = len(audio) if end is None else min(len(audio), int(round(end * sample_rate)))
        if last <= first:
            raise DataDirError(f"{utt}: segment {start}-{end} s is outside its audio ({entry})")
        path = audio_dir / f"{utt}.wav"
        soundfile.write(path, audio[first:last], sample_rate, subtype="PCM_16")
        written.append((utt, str(path)))
    return written


def format_data_dir(
    source: Path,
    target: Path,
    sample_rate: int = 16000,
    num_jobs: int = 1,
    audio_dir: Optional[Path] = None,
) -> int:
    """Write ``target``: ``source``'s utterances, each one audio file at ``sample_rate``,
    mono (see the module docstring). Returns the number of utterances."""
    source, target = Path(source), Path(target)
    validate_data_dir(source, check_audio=False)
    wav = read_table(source / "wav.scp", []).entries
    texts = read_table(source / "text", []).entries
    speakers = read_table(source / "utt2spk", []).entries
    segments: Segments = {utt: (utt, 0.0, None) for utt in texts}
    if (source / "segments").exists():
        for utt, value in read_table(source / "segments", []).entries.items():
            recording, start, end = value.split()[:3]
            segments[utt] = (recording, float(start), float(end))
    audio_dir = Path(audio_dir or target.with_name(target.name + "_audio"))
    by_recording: Dict[str, List[Tuple[str, float, Optional[float]]]] = {}
    paths: Dict[str, str] = {}
    for utt, (recording, start, end) in sorted(segments.items()):
        if end is None and usable_in_place(wav[recording], sample_rate):
            paths[utt] = wav[recording]
        else:
            by_recording.setdefault(recording, []).append((utt, start, end))
    jobs = [(wav[rec], cuts, audio_dir, sample_rate) for rec, cuts in sorted(by_recording.items())]
    if jobs:
        audio_dir.mkdir(parents=True, exist_ok=True)
        print(
            f"[format] {source.name}: {len(jobs)} recordings to cut/convert, "
            f"{len(paths)} utterances kept in place",
            flush=True,
        )
        context = multiprocessing.get_context("fork")
        with context.Pool(max(1, num_jobs)) as pool:
            for done, written in enumerate(pool.imap_unordered(_cut_recording, jobs), 1):
                paths.update(written)
                if done % max(1, len(jobs) // 10) == 0 or done == len(jobs):
                    print(f"[format] {source.name}: {done}/{len(jobs)} recordings", flush=True)
    utterances = [Utterance(utt, speakers[utt], paths[utt], texts[utt]) for utt in sorted(paths)]
    write_data_dir(utterances, target)
    return len(utterances)
