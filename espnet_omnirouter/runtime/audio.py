"""Read audio files for the runtime: mono float32 at the model's rate (numpy only)."""

from pathlib import Path

import numpy as np
import soundfile


class AudioError(ValueError):
    """An audio file that cannot be decoded: unreadable or empty."""


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling by the FFT (the spectrum cut or zero-padded). The eager
    CLI (``utils.audio``) uses scipy's polyphase filter instead: texts of files at
    another rate than the model's can differ slightly between the two."""
    if from_rate == to_rate:
        return samples
    length = int(round(len(samples) * to_rate / from_rate))
    spectrum = np.fft.rfft(samples)
    bins = length // 2 + 1
    spectrum = (
        spectrum[:bins] if len(spectrum) >= bins else np.pad(spectrum, (0, bins - len(spectrum)))
    )
    return np.fft.irfft(spectrum, n=length) * (length / len(samples))


def load_audio(path: Path, sample_rate: int) -> np.ndarray:
    """Mono float32 samples of ``path`` at ``sample_rate`` (channels averaged).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        AudioError: not audio libsndfile reads, or no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"audio file not found: {path}")
    try:
        samples, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError, TypeError) as error:
        raise AudioError(f"cannot read audio from {path}: {error}") from error
    if samples.size == 0:
        raise AudioError(f"{path} has no audio samples")
    return resample(samples.mean(axis=1), file_rate, sample_rate).astype(np.float32)
