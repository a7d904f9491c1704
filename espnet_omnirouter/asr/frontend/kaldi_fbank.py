"""Kaldi filterbank features as sherpa-onnx computes them (kaldi-native-fbank).

sherpa-onnx computes its models' features itself, with kaldi-native-fbank: Kaldi's
log-mel filterbank of 16-bit-scaled samples, 25 ms Povey windows every 10 ms, frames
centred on multiples of the shift (``snip_edges: false``), 80 bins from 20 Hz to 400 Hz
below Nyquist, no dither. A model trained on ESPnet's STFT frontend cannot be deployed
there; one trained with ``frontend: kaldi_fbank`` reads the same features in training,
in ESPnet's decoding and in sherpa-onnx (the tests compare with kaldi-native-fbank).
"""

from typing import Tuple

import torch
from espnet2.asr.frontend.abs_frontend import AbsFrontend
from torchaudio.compliance import kaldi

SAMPLE_SCALE = 32768.0  # float samples in [-1, 1] to the 16-bit range Kaldi works in


def reflected(wave: torch.Tensor, length: int) -> torch.Tensor:
    """(samples,) -> (length,): the waveform continued past its end as Kaldi reads samples
    outside a waveform (mirrored at both ends, again and again: period 2 * samples)."""
    period = 2 * wave.numel()
    index = torch.arange(length, device=wave.device) % period
    return wave[torch.where(index >= wave.numel(), period - 1 - index, index)]


class KaldiFbankFrontend(AbsFrontend):
    """``frontend: kaldi_fbank``: (B, samples) float waveforms -> (B, frames, n_mels) log
    filterbank energies, each utterance computed alone on its own samples (padding never
    reaches a frame), ``(samples + shift / 2) // shift`` frames per utterance.

    Args:
        fs: Sample rate (Hz).
        n_mels: Filterbank bins.
        frame_length_ms, frame_shift_ms: Window length and shift.
        low_freq: Lowest bin edge (Hz).
        high_freq: Highest bin edge (Hz); <= 0: that far below Nyquist.
        dither: Gaussian dither in training (Kaldi's; 0: none). Evaluation never dithers.
    """

    def __init__(
        self,
        fs: int = 16000,
        n_mels: int = 80,
        frame_length_ms: float = 25.0,
        frame_shift_ms: float = 10.0,
        low_freq: float = 20.0,
        high_freq: float = -400.0,
        dither: float = 0.0,
    ):
        super().__init__()
        self.fs = int(fs)
        self.n_mels = n_mels
        self.frame_length_ms = frame_length_ms
        self.frame_shift_ms = frame_shift_ms
        self.low_freq = low_freq
        self.high_freq = high_freq
        self.dither = dither
        self.hop_length = int(self.fs * frame_shift_ms / 1000)  # samples
        self.win_length = int(self.fs * frame_length_ms / 1000)
        # Frame k reads samples k * hop_length - window_pad ... (Kaldi's first sample of a
        # frame with snip_edges false; the signal is reflected at both ends).
        self.window_pad = self.win_length // 2 - self.hop_length // 2

    def output_size(self) -> int:
        return self.n_mels

    def num_frames(self, num_samples: int) -> int:
        """Frames of ``num_samples`` samples (Kaldi's count with ``snip_edges: false``)."""
        return (num_samples + self.hop_length // 2) // self.hop_length

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """(samples,) float waveform -> (frames, n_mels) float32 log filterbank."""
        num_frames = self.num_frames(wave.numel())
        if num_frames == 0:
            return wave.new_zeros(0, self.n_mels, dtype=torch.float32)
        if wave.numel() < self.win_length:  # torchaudio needs a window of samples
            return self._fbank(reflected(wave, wave.numel() + self.win_length))[:num_frames]
        return self._fbank(wave)

    def _fbank(self, wave: torch.Tensor) -> torch.Tensor:
        return kaldi.fbank(
            wave.float()[None] * SAMPLE_SCALE,
            num_mel_bins=self.n_mels,
            frame_length=self.frame_length_ms,
            frame_shift=self.frame_shift_ms,
            low_freq=self.low_freq,
            high_freq=self.high_freq,
            dither=self.dither if self.training else 0.0,
            window_type="povey",
            snip_edges=False,
            energy_floor=0.0,
            sample_frequency=self.fs,
        )

    def forward(
        self, input: torch.Tensor, input_lengths: torch.Tensor
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        feats = [self.features(wave[: int(n)]) for wave, n in zip(input, input_lengths)]
        lengths = torch.tensor([len(f) for f in feats], device=input.device)
        return torch.nn.utils.rnn.pad_sequence(feats, batch_first=True), lengths
