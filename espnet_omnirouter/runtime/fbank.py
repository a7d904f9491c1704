"""Kaldi filterbank features with kaldi-native-fbank, as sherpa-onnx computes them, for
models trained with ``frontend: kaldi_fbank``; then the model's global mean and
variance normalisation."""

from pathlib import Path
from typing import Dict, Optional

import numpy as np

SAMPLE_SCALE = 32768.0  # float samples in [-1, 1] to the 16-bit range Kaldi works in


class KaldiFbankFeatures:
    """Kaldi log filterbank (snip_edges false, Povey windows, no dither) of a waveform.

    Args:
        options: ``export.json``'s ``frontend`` (sample_rate, n_mels, frame_length_ms,
            frame_shift_ms, low_freq, high_freq, norm_means, norm_vars).
        arrays: ``frontend.npz``: ``mean``, ``std`` (n_mels,) when the model normalises.
    """

    def __init__(self, options: Dict, arrays: Dict[str, np.ndarray]):
        try:
            import kaldi_native_fbank
        except ImportError as error:
            raise ImportError(
                "a kaldi_fbank model's features need kaldi-native-fbank: pip install "
                "kaldi-native-fbank (or espnet_omnirouter[onnx])"
            ) from error

        self._knf = kaldi_native_fbank
        self.sample_rate = int(options["sample_rate"])
        self.n_mels = int(options["n_mels"])
        self.hop_length = int(self.sample_rate * options["frame_shift_ms"] / 1000)
        fbank = kaldi_native_fbank.FbankOptions()
        fbank.frame_opts.samp_freq = self.sample_rate
        fbank.frame_opts.frame_length_ms = float(options["frame_length_ms"])
        fbank.frame_opts.frame_shift_ms = float(options["frame_shift_ms"])
        fbank.frame_opts.dither = 0.0
        fbank.frame_opts.snip_edges = False
        fbank.frame_opts.window_type = "povey"
        fbank.mel_opts.num_bins = self.n_mels
        fbank.mel_opts.low_freq = float(options["low_freq"])
        fbank.mel_opts.high_freq = float(options["high_freq"])
        fbank.energy_floor = 0.0
        self.options = fbank
        self.mean: Optional[np.ndarray] = arrays["mean"] if options["norm_means"] else None
        self.std: Optional[np.ndarray] = arrays["std"] if options["norm_vars"] else None

    @classmethod
    def from_export_dir(cls, directory: Path, options: Dict) -> "KaldiFbankFeatures":
        with np.load(Path(directory) / "frontend.npz") as arrays:
            return cls(options, dict(arrays))

    def num_frames(self, num_samples: int) -> int:
        """Frames of a whole waveform (frames centred on multiples of the shift)."""
        return (num_samples + self.hop_length // 2) // self.hop_length

    def min_samples(self, num_frames: int) -> int:
        """Fewest samples that give ``num_frames`` frames."""
        return max(num_frames * self.hop_length - self.hop_length // 2, 1)

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        """(samples,) float -> (frames, n_mels) float32 normalised features."""
        stream = self.stream()
        return np.concatenate([stream.accept(samples), stream.flush()])

    def stream(self) -> "FbankStream":
        return FbankStream(self)

    def normalize(self, feats: np.ndarray) -> np.ndarray:
        if self.mean is not None:
            feats = feats - self.mean
        if self.std is not None:
            feats = feats / self.std
        return feats.astype(np.float32)


class FbankStream:
    """Features of a waveform that arrives in pieces (kaldi-native-fbank's online fbank:
    the same frames as the whole waveform's)."""

    def __init__(self, features: KaldiFbankFeatures):
        self.features = features
        self.fbank = features._knf.OnlineFbank(features.options)
        self.frames_taken = 0

    def accept(self, samples: np.ndarray) -> np.ndarray:
        """Add samples; returns the frames (n, n_mels) that became complete."""
        scaled = np.asarray(samples, dtype=np.float32) * SAMPLE_SCALE
        self.fbank.accept_waveform(self.features.sample_rate, scaled.tolist())
        return self._take()

    def flush(self) -> np.ndarray:
        """End of the stream: the frames (n, n_mels) left."""
        self.fbank.input_finished()
        return self._take()

    def _take(self) -> np.ndarray:
        ready = self.fbank.num_frames_ready
        frames = [self.fbank.get_frame(i) for i in range(self.frames_taken, ready)]
        self.frames_taken = ready
        if not frames:
            return np.zeros((0, self.features.n_mels), dtype=np.float32)
        return self.features.normalize(np.stack(frames))
