"""ESPnet's default feature extraction in numpy: STFT (centred, reflect padding) -> power
spectrum -> log-mel -> global mean and variance normalisation (``DefaultFrontend`` +
``GlobalMVN``), from the window, mel matrix and statistics the exporter saved."""

from pathlib import Path
from typing import Dict

import numpy as np


class LogMelFrontend:
    """Log-mel features of a waveform, as the model was trained on.

    Args:
        options: ``export.json``'s ``frontend`` (n_fft, hop_length, center, log_base,
            norm_means, norm_vars).
        arrays: ``frontend.npz``: ``window`` (n_fft,), ``melmat`` (n_fft // 2 + 1, n_mels),
            and ``mean``, ``std`` (n_mels,) when the model normalises its features.
    """

    def __init__(self, options: Dict, arrays: Dict[str, np.ndarray]):
        self.n_fft, self.hop_length = int(options["n_fft"]), int(options["hop_length"])
        self.center = bool(options["center"])
        self.log_base = options["log_base"]
        self.window = arrays["window"].astype(np.float64)
        self.melmat = arrays["melmat"].astype(np.float64)
        self.mean = arrays["mean"] if options["norm_means"] else None
        self.std = arrays["std"] if options["norm_vars"] else None

    @classmethod
    def from_export_dir(cls, directory: Path, options: Dict) -> "LogMelFrontend":
        with np.load(Path(directory) / "frontend.npz") as arrays:
            return cls(options, dict(arrays))

    @property
    def pad(self) -> int:
        """Samples of reflection padding on each side (centred frames)."""
        return self.n_fft // 2 if self.center else 0

    def num_frames(self, num_samples: int) -> int:
        """Frames of a whole waveform (ESPnet's ``Stft`` output length)."""
        return (num_samples + 2 * self.pad - self.n_fft) // self.hop_length + 1

    def min_samples(self, num_frames: int) -> int:
        """Fewest samples that give ``num_frames`` frames (centred frames also need more
        samples than the reflection padding)."""
        needed = (num_frames - 1) * self.hop_length + self.n_fft - 2 * self.pad
        return max(needed, self.pad + 1)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """(samples,) float -> (frames, n_mels) float32 features of a whole waveform."""
        padded = np.asarray(samples, dtype=np.float64)
        if self.center:
            if len(padded) <= self.pad:
                raise ValueError(
                    f"{len(padded)} samples: too short for the STFT (needs more than {self.pad})"
                )
            padded = np.pad(padded, self.pad, mode="reflect")
        return self.frames(padded, 0, self.num_frames(len(samples)))

    def stream(self) -> "StreamingFeatures":
        """Features of a waveform that arrives in pieces."""
        return StreamingFeatures(self)

    def frames(self, padded: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Features (stop - start, n_mels) of frames ``start``..``stop - 1`` of a padded
        signal whose frame i starts at sample ``i * hop_length``."""
        if stop <= start:
            return np.zeros((0, self.melmat.shape[1]), dtype=np.float32)
        starts = np.arange(start, stop) * self.hop_length
        windows = padded[starts[:, None] + np.arange(self.n_fft)[None, :]] * self.window
        spectrum = np.fft.rfft(windows, axis=-1)
        power = spectrum.real**2 + spectrum.imag**2
        mel = np.maximum(power @ self.melmat, 1e-10)
        feats = np.log(mel) if self.log_base is None else np.log(mel) / np.log(self.log_base)
        if self.mean is not None:
            feats = feats - self.mean
        if self.std is not None:
            feats = feats / self.std
        return feats.astype(np.float32)


class StreamingFeatures:
    """Features of a waveform that arrives in pieces: each frame once its STFT window lies
    inside the audio received (then it equals the whole waveform's frame), the rest at
    the end (right reflection padding). The same frames as ``LogMelFrontend`` of the
    whole waveform."""

    def __init__(self, frontend: LogMelFrontend):
        self.frontend = frontend
        self.audio = np.zeros(0, dtype=np.float64)
        self.frames_taken = 0

    def accept(self, samples: np.ndarray) -> np.ndarray:
        """Add samples; returns the frames (n, n_mels) that became complete."""
        self.audio = np.concatenate([self.audio, np.asarray(samples, dtype=np.float64)])
        frontend, pad = self.frontend, self.frontend.pad
        if len(self.audio) <= pad:
            return self.frontend.frames(self.audio, 0, 0)
        ready = (len(self.audio) - pad) // frontend.hop_length + 1
        left = self.audio[pad:0:-1] if pad else self.audio[:0]
        return self._take(np.concatenate([left, self.audio]), ready)

    def flush(self) -> np.ndarray:
        """End of the stream: the frames (n, n_mels) left."""
        frontend = self.frontend
        if len(self.audio) <= frontend.pad:
            return frontend.frames(self.audio, 0, 0)
        padded = np.pad(self.audio, frontend.pad, mode="reflect") if frontend.pad else self.audio
        return self._take(padded, frontend.num_frames(len(self.audio)))

    def _take(self, padded: np.ndarray, ready: int) -> np.ndarray:
        new = self.frontend.frames(padded, self.frames_taken, ready)
        self.frames_taken = max(self.frames_taken, ready)
        return new
