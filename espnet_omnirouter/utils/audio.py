"""Read user audio for decoding: any sample rate (resampled), any channel count (mixed)."""

from math import gcd
from pathlib import Path

import numpy as np
import soundfile
from scipy.signal import resample_poly


class AudioError(ValueError):
    """An audio file that cannot be decoded: unreadable, empty or silent-length."""


def load_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples of ``path`` at ``sample_rate`` Hz.

    Reads what libsndfile reads (wav, flac, ogg, ...). Several channels are averaged;
    another rate is converted with a polyphase filter.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        AudioError: the file is not audio libsndfile can read (a file without samples
            gives an empty array: decoders return an empty hypothesis for it).
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
    """(#samples, #channels) audio at ``file_rate`` -> float32 mono at ``sample_rate``
    (channels averaged, other rates converted with a polyphase filter)."""
    mono = samples.mean(axis=1)
    if file_rate != sample_rate:
        divisor = gcd(file_rate, sample_rate)
        mono = resample_poly(mono, sample_rate // divisor, file_rate // divisor)
    return mono.astype(np.float32)


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
