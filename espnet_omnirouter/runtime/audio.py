"""Read audio files for decoding: mono float32 at the model's rate, whatever the file's rate
and channels (numpy, soundfile and soxr only: the eager CLI, data preparation and the
torch-free runtime all read audio here, so they decode the same samples)."""

from pathlib import Path

import numpy as np
import soundfile
import soxr


class AudioError(ValueError):
    """An audio file that cannot be decoded: not audio libsndfile reads."""


def load_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples (#samples,) of ``path`` at ``sample_rate`` Hz.

    Reads what libsndfile reads (wav, flac, ogg, ...); see ``mono_at_rate``. A file without
    samples gives an empty array: the decoders return an empty hypothesis for it.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        AudioError: the file is not audio libsndfile can read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    try:
        samples, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"cannot read audio from {path}: {error}") from error
    return mono_at_rate(samples, file_rate, sample_rate)


def mono_at_rate(samples: np.ndarray, file_rate: int, sample_rate: int) -> np.ndarray:
    """(#samples, #channels) audio at ``file_rate`` -> (#samples',) float32 mono at
    ``sample_rate``: channels averaged, another rate converted by soxr's high-quality
    resampler (``#samples' = round(#samples * sample_rate / file_rate)``)."""
    mono = samples.mean(axis=1, dtype=np.float32)
    if file_rate != sample_rate:
        mono = soxr.resample(mono, file_rate, sample_rate, quality="HQ")
    return mono.astype(np.float32, copy=False)


def audio_duration(path: Path) -> float:
    """Seconds of audio in ``path``, read from its header (no samples decoded).

    Raises:
        FileNotFoundError, AudioError: as ``load_audio``, with the same messages.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    try:
        return soundfile.info(path).duration
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"cannot read audio from {path}: {error}") from error
