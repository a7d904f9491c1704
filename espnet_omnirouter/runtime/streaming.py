"""Chunk-by-chunk recognition of one audio stream with an exported U2++ model on ONNX
Runtime (the PyTorch model's ``asr.streaming.EagerStreamingRecognizer``: the same chunks,
caches and texts)."""

from typing import List, Optional

import numpy as np

from .ctc_search import Hypothesis, ctc_prefix_beam_search
from .exported_model import ExportedModel
from .frontend import StreamingFeatures


class OnnxStreamingRecognizer:
    """Feed audio in pieces of any length, read partial results, finalize.

    Feature frames are computed once their STFT window is complete; every full window
    of ``chunk_size`` encoder frames goes through the chunk encoder with the attention
    and convolution caches; CTC prefix beam search over the frames so far gives the
    partial text. ``finalize`` encodes the rest and rescores the n-best with the
    attention decoders when the model has them.

    Args:
        model: An exported U2++ model.
        chunk_size: Encoder frames per chunk (after subsampling), >= 1.
        num_left_chunks: Earlier chunks each chunk attends to (-1: all).
        beam_size: CTC prefix beam (and rescored n-best) size.
        ctc_weight: Weight of the CTC score in rescoring.
        reverse_weight: Weight of the right-to-left decoder (default: the model's).
    """

    def __init__(
        self,
        model: ExportedModel,
        chunk_size: int = 16,
        num_left_chunks: int = -1,
        beam_size: int = 10,
        ctc_weight: float = 0.5,
        reverse_weight: Optional[float] = None,
    ):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        model.new_chunk_state()  # fails early, naming the export, for a non-U2++ model
        self.model, self.chunk_size, self.num_left_chunks = model, chunk_size, num_left_chunks
        self.beam_size, self.ctc_weight, self.reverse_weight = beam_size, ctc_weight, reverse_weight
        self.window, self.stride = model.streaming_window(chunk_size)
        self.required_cache_size = chunk_size * num_left_chunks if num_left_chunks >= 0 else -1
        self.reset()

    def reset(self) -> None:
        """Forget the current stream."""
        self.features = StreamingFeatures(self.model.frontend)
        self.pending = np.zeros((0, self.model.description["feat_size"]), np.float32)
        self.state = self.model.new_chunk_state()
        self.encoded: List[np.ndarray] = []  # (1, t, D) per chunk
        self.log_probs: List[np.ndarray] = []  # (t, V) per chunk

    @property
    def samples_per_chunk(self) -> int:
        """Audio samples between chunk starts (a natural piece size for feeding)."""
        return self.stride * self.model.frontend.hop_length

    def accept_waveform(self, samples: np.ndarray) -> str:
        """Add audio (1-D float samples at the model's rate); the best text so far."""
        self._encode(self.features.accept(samples), final=False)
        return self.model.ids_to_text(self._nbest()[0][0]) if self.log_probs else ""

    def finalize(self) -> str:
        """Encode what is left, rescore, return the final text and reset."""
        self._encode(self.features.flush(), final=True)
        text = ""
        if self.log_probs:
            nbest = self._nbest()
            best = nbest[0][0]
            if self.model.has_decoder:
                encoder_out = np.concatenate(self.encoded, axis=1)
                best, _ = self.model.rescore(
                    encoder_out, nbest, self.ctc_weight, self.reverse_weight
                )
            text = self.model.ids_to_text(best)
        self.reset()
        return text

    def _encode(self, new_frames: np.ndarray, final: bool) -> None:
        self.pending = np.concatenate([self.pending, new_frames])
        # Full windows while streaming; at the end every window start that the offline
        # chunk-by-chunk loop visits (more than the right context left).
        minimum = self.model.encoder_info["right_context"] + 1 if final else self.window
        while len(self.pending) >= minimum:
            encoded = self.model.encode_chunk(
                self.pending[: self.window], self.state, self.required_cache_size
            )
            self.encoded.append(encoded)
            self.log_probs.append(self.model.ctc_log_probs(encoded))
            self.pending = self.pending[self.stride :]

    def _nbest(self) -> List[Hypothesis]:
        log_probs = np.concatenate(self.log_probs, axis=0)
        return ctc_prefix_beam_search(log_probs, self.beam_size, self.model.blank_id)
