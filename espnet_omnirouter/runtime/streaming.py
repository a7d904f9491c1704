"""Chunk-by-chunk recognition of one audio stream (U2++: WeNet's two-pass decoding), for
any ``RecognitionModel``: the exported model on ONNX Runtime and the eager PyTorch one
run this same recogniser."""

from typing import List

import numpy as np

from .ctc_search import CTCPrefixBeamSearch
from .recognition_model import RecognitionModel
from .rescoring import attention_rescoring


class StreamingRecognizer:
    """Feed audio in pieces of any length, read partial results, finalize.

    Feature frames are computed once their window is complete (the model's
    ``feature_stream``); every full window of ``chunk_size`` encoder frames goes through
    ``encode_chunk`` with the stream's caches; the CTC prefix beam search advances over
    each new chunk's frames only (``CTCPrefixBeamSearch``), so the work of a partial
    result does not grow with the stream. ``finalize`` encodes the rest and, when the
    model has attention decoders, rescores the CTC n-best with them. The final text
    equals offline decoding of the whole utterance with the same chunk mask, whatever
    was streamed before.

    Memory: the audio and feature buffers hold about one chunk, the attention caches
    ``chunk_size * num_left_chunks`` frames (all earlier frames with -1) and the search
    its beams; a model with attention decoders also keeps the stream's encoder output
    for rescoring. For long recordings call ``finalize`` at pauses.

    Args:
        model: A streamable model (``model.streamable``: U2++ with causal convolution).
        chunk_size: Encoder frames per chunk (after subsampling), >= 1.
        num_left_chunks: Earlier chunks each chunk attends to (-1: all).
        beam_size: CTC prefix beam size (also the n-best size that is rescored).
        ctc_weight: Weight of the CTC score in attention rescoring.
        reverse_weight: Weight of the right-to-left decoder (None: the model's).
        rescore: False: the CTC search's best is the final text, no decoder runs (and no
            encoder output is kept) even when the model has attention decoders.

    Usage::

        recognizer = StreamingRecognizer(model, chunk_size=16)
        for samples in microphone:          # 1-D float arrays at model.sample_rate
            print(recognizer.accept_waveform(samples))
        print(recognizer.finalize())        # then ready for a new stream
    """

    def __init__(
        self,
        model: RecognitionModel,
        chunk_size: int = 16,
        num_left_chunks: int = -1,
        beam_size: int = 10,
        ctc_weight: float = 0.5,
        reverse_weight: float | None = None,
        rescore: bool = True,
    ):
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
        model.new_chunk_state()  # a model that cannot stream says why, naming the part
        self.model, self.chunk_size, self.num_left_chunks = model, chunk_size, num_left_chunks
        self.beam_size, self.ctc_weight = beam_size, ctc_weight
        self.reverse_weight = model.reverse_weight if reverse_weight is None else reverse_weight
        self.rescore = rescore and model.has_decoder
        self.window, self.stride = model.streaming_window(chunk_size)
        self.required_cache_size = chunk_size * num_left_chunks if num_left_chunks >= 0 else -1
        self.reset()

    def reset(self) -> None:
        """Forget the current stream."""
        self.features = self.model.feature_stream()
        self.pending: np.ndarray | None = None  # feature frames from the next chunk's start
        self.state = self.model.new_chunk_state()
        self.encoded: List[np.ndarray] = []  # (1, t, D) per chunk, kept for rescoring
        self.search = CTCPrefixBeamSearch(self.beam_size, self.model.blank_id)
        self.frames = 0  # encoder frames output

    @property
    def samples_per_chunk(self) -> int:
        """Audio samples between chunk starts (a natural piece size for feeding)."""
        return self.stride * self.model.hop_length

    def accept_waveform(self, samples: np.ndarray) -> str:
        """Add audio (1-D float samples at the model's rate); the best text so far."""
        self._encode(self.features.accept(np.asarray(samples, dtype=np.float32)), final=False)
        return self.model.ids_to_text(self.search.nbest()[0][0]) if self.frames else ""

    def finalize(self) -> str:
        """Encode what is left, rescore, return the final text and reset."""
        self._encode(self.features.flush(), final=True)
        text = ""
        if self.frames:
            nbest = self.search.nbest()
            best = nbest[0][0]
            if self.rescore:
                encoder_out = np.concatenate(self.encoded, axis=1)
                best, _ = attention_rescoring(
                    self.model, encoder_out, nbest, self.ctc_weight, self.reverse_weight
                )
            text = self.model.ids_to_text(best)
        self.reset()
        return text

    def _encode(self, new_frames: np.ndarray, final: bool) -> None:
        if len(new_frames):
            self.pending = (
                new_frames if self.pending is None else np.concatenate([self.pending, new_frames])
            )
        # Full windows while streaming; at the end, every window start the offline
        # chunk-by-chunk loop visits (more than the right context left).
        minimum = self.model.right_context + 1 if final else self.window
        while self.pending is not None and len(self.pending) >= minimum:
            encoded, self.state = self.model.encode_chunk(
                self.pending[: self.window], self.state, self.required_cache_size
            )
            self.search.advance(self.model.ctc_log_probs(encoded))
            self.frames += encoded.shape[1]
            if self.rescore:
                self.encoded.append(encoded)
            self.pending = self.pending[self.stride :]
