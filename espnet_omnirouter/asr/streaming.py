"""Streaming recognition with a U2++ model: feed audio, read partial results, finalize."""

from typing import List, Optional

import numpy as np
import torch
from espnet2.asr.frontend.default import DefaultFrontend

from espnet_omnirouter.asr.decoding.attention_rescoring import attention_rescoring
from espnet_omnirouter.asr.decoding.batch_search import ids_to_text
from espnet_omnirouter.asr.decoding.ctc_prefix_beam_search import ctc_prefix_beam_search
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import (
    StreamingState,
    U2ppConformerEncoder,
)


class StreamingRecognizer:
    """Recognise one audio stream chunk by chunk (U2++: WeNet's two-pass decoding).

    Audio arrives in pieces of any length. Feature frames are computed once the STFT
    window around them is complete; the encoder runs ``U2ppConformerEncoder.forward_chunk``
    on every full chunk (``chunk_size`` encoder frames, ``num_left_chunks`` earlier chunks
    of attention context, -1 for all); CTC prefix beam search over the frames encoded so
    far gives the partial result. ``finalize`` encodes the rest and, when the model has
    attention decoders, rescores the CTC n-best with them (``attention_rescoring``). The
    final text equals offline decoding of the whole utterance with the same chunk mask.

    Args:
        speech2text: ESPnet ``Speech2Text`` of a model with a ``U2ppConformerEncoder``
            and ESPnet's default (STFT) frontend.
        chunk_size: encoder frames per chunk (after subsampling), >= 1.
        num_left_chunks: earlier chunks each chunk attends to (-1: all).
        beam_size: CTC prefix beam size (also the n-best size that is rescored).
        ctc_weight: weight of the CTC score in attention rescoring.
        reverse_weight: weight of the right-to-left decoder in attention rescoring
            (default: the model's).

    Usage::

        recognizer = StreamingRecognizer(speech2text, chunk_size=16)
        for samples in microphone:           # 1-D float arrays at the model's rate
            print(recognizer.accept_waveform(samples))
        print(recognizer.finalize())         # then the recognizer is ready for a new stream
    """

    def __init__(
        self,
        speech2text,
        chunk_size: int = 16,
        num_left_chunks: int = -1,
        beam_size: int = 10,
        ctc_weight: float = 0.5,
        reverse_weight: Optional[float] = None,
    ):
        self.speech2text, self.model = speech2text, speech2text.asr_model
        if not isinstance(self.model.encoder, U2ppConformerEncoder):
            raise TypeError(
                f"streaming needs a u2pp_conformer encoder, not {type(self.model.encoder).__name__}"
            )
        if not isinstance(self.model.frontend, DefaultFrontend):
            raise TypeError("streaming computes features with ESPnet's default STFT frontend")
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        self.encoder: U2ppConformerEncoder = self.model.encoder
        self.chunk_size, self.num_left_chunks = chunk_size, num_left_chunks
        self.beam_size, self.ctc_weight = beam_size, ctc_weight
        self.reverse_weight = (
            getattr(self.model, "reverse_weight", 0.0) if reverse_weight is None else reverse_weight
        )
        self.window, self.stride = self.encoder.streaming_window(chunk_size)
        stft = self.model.frontend.stft
        self.hop_length, self.half_window = stft.hop_length, stft.n_fft // 2
        self.reset()

    def reset(self) -> None:
        """Forget the current stream."""
        self.audio = np.zeros(0, dtype=np.float32)
        self.frames_taken = 0  # feature frames moved to ``pending``
        self.pending: Optional[torch.Tensor] = None  # features from the next chunk's start
        self.state: Optional[StreamingState] = None
        self.encoded: List[torch.Tensor] = []  # encoder output of each chunk (1, t, D)
        self.log_probs: List[torch.Tensor] = []  # CTC log-probabilities of each chunk

    def accept_waveform(self, samples: np.ndarray) -> str:
        """Add audio (1-D float samples); returns the best hypothesis so far."""
        self.audio = np.concatenate([self.audio, np.asarray(samples, dtype=np.float32)])
        self._encode(final=False)
        return ids_to_text(self.speech2text, self._nbest()[0][0]) if self.log_probs else ""

    def flush(self) -> None:
        """End of stream: encode the frames left (``finalize`` does it first)."""
        self._encode(final=True)

    @property
    def encoder_out(self) -> torch.Tensor:
        """(1, frames, size) encoder output of the stream so far."""
        return torch.cat(self.encoded, dim=1)

    def finalize(self) -> str:
        """Encode what is left, rescore, return the final text and reset."""
        self.flush()
        text = ""
        if self.log_probs:
            nbest = self._nbest()
            best = nbest[0][0]
            if getattr(self.model, "decoder", None) is not None:
                with torch.no_grad():
                    best, _ = attention_rescoring(
                        self.model.decoder, self.encoder_out, nbest,
                        self.model.sos, self.model.eos, self.ctc_weight, self.reverse_weight,
                    )  # fmt: skip
            text = ids_to_text(self.speech2text, best)
        self.reset()
        return text

    def _stable_features(self, final: bool) -> Optional[torch.Tensor]:
        """Feature frames not yet taken whose STFT window lies inside the audio received
        (all of them when the stream has ended), normalised as the model does."""
        if len(self.audio) <= self.half_window:
            return None
        speech = torch.from_numpy(self.audio)[None]
        with torch.no_grad():
            feats, lengths = self.model.frontend(speech, torch.tensor([len(self.audio)]))
            if self.model.normalize is not None:
                feats, lengths = self.model.normalize(feats, lengths)
        ready = (
            feats.size(1) if final else (len(self.audio) - self.half_window) // self.hop_length + 1
        )
        new = feats[:, self.frames_taken : ready]
        self.frames_taken = max(self.frames_taken, ready)
        return new

    def _encode(self, final: bool) -> None:
        new = self._stable_features(final)
        if new is not None and new.size(1) > 0:
            self.pending = new if self.pending is None else torch.cat([self.pending, new], dim=1)
        required = self.chunk_size * self.num_left_chunks if self.num_left_chunks >= 0 else -1
        # Full windows while streaming; at the end, every window start the offline
        # chunk-by-chunk loop would visit (more than the right context left).
        minimum = self.encoder.right_context + 1 if final else self.window
        while self.pending is not None and self.pending.size(1) >= minimum:
            offset = sum(chunk.size(1) for chunk in self.encoded)
            with torch.no_grad():
                encoded, self.state = self.encoder.forward_chunk(
                    self.pending[:, : self.window], offset, required, self.state
                )
                self.log_probs.append(self.model.ctc.log_softmax(encoded))
            self.encoded.append(encoded)
            self.pending = self.pending[:, self.stride :]

    def _nbest(self):
        log_probs = torch.cat(self.log_probs, dim=1)[0]
        return ctc_prefix_beam_search(log_probs, self.beam_size, self.model.blank_id)
