"""What the decoding algorithms need of a model: the interface that the exported model
(``exported_model.ExportedModel``, ONNX Runtime) and the eager one
(``espnet_omnirouter.asr.decoding.eager_model.EagerModel``, PyTorch) implement, so that
greedy and prefix beam search, attention rescoring and streaming (``decoding``,
``rescoring``, ``streaming``) are written once for both.

Arrays are numpy: features (T, F), encoder output (1, T', D) of one utterance, CTC
log-probabilities (T', V).
"""

from typing import Any, Optional, Protocol, Sequence, Tuple

import numpy as np


class FeatureStream(Protocol):
    """Feature frames of one audio stream, computed once their window is complete."""

    def accept(self, samples: np.ndarray) -> np.ndarray:
        """More 1-D samples at the model's rate -> the (n, F) frames they complete."""

    def flush(self) -> np.ndarray:
        """End of stream -> the (n, F) frames left."""


class RecognitionModel(Protocol):
    """A speech recogniser as the decoding algorithms see it.

    Attributes:
        sample_rate: Hz of the audio it takes.
        min_samples: fewest samples it encodes into one frame (shorter audio: empty text).
        blank_id, sos, eos: CTC blank and decoder start/end ids.
        has_decoder: whether it has attention decoders (for rescoring).
        reverse_weight: its right-to-left decoder's default rescoring weight (0: none).
        streamable: whether chunk-by-chunk encoding reproduces its chunk-masked encoder
            (U2++ with a causal convolution).
        chunk_attention: whether its encoder decodes with chunk attention (U2++).
        right_context: input frames after an encoder frame's first one that it reads.
        hop_length: audio samples between feature frames.
    """

    sample_rate: int
    min_samples: int
    blank_id: int
    sos: int
    eos: int
    has_decoder: bool
    reverse_weight: float
    streamable: bool
    chunk_attention: bool
    right_context: int
    hop_length: int

    def ids_to_text(self, token_ids: Sequence[int]) -> str: ...

    def features(self, samples: np.ndarray) -> np.ndarray:
        """One utterance's samples -> normalised features (T, F)."""

    def encode(
        self, feats: np.ndarray, chunk_size: int = 0, num_left_chunks: int = -1
    ) -> np.ndarray:
        """Features (T, F) -> encoder output (1, T', D): full context, or chunk attention
        of ``chunk_size`` frames seeing ``num_left_chunks`` earlier chunks (-1: all)."""

    def ctc_log_probs(self, encoder_out: np.ndarray) -> np.ndarray:
        """Encoder output (1, T', D) -> CTC log-probabilities (T', V)."""

    def decoder_log_probs(
        self,
        encoder_out: np.ndarray,
        ys_in: np.ndarray,
        ys_in_lens: np.ndarray,
        r_ys_in: Optional[np.ndarray],
    ) -> Tuple[np.ndarray, Optional[np.ndarray]]:
        """Teacher-forced decoders on one utterance's encoder output (1, T', D):
        ``<sos>`` + tokens (N, L) -> left-to-right log-probabilities (N, L, V), and with
        ``r_ys_in`` (the tokens reversed) the right-to-left ones."""

    def feature_stream(self) -> FeatureStream: ...

    def streaming_window(self, chunk_size: int) -> Tuple[int, int]:
        """(feature frames per chunk, feature frames between chunk starts)."""

    def new_chunk_state(self) -> Any:
        """The streaming state before a stream's first chunk; raises ValueError (or
        the model's own error) naming what keeps a model that cannot stream from it."""

    def encode_chunk(
        self, frames: np.ndarray, state: Any, required_cache_size: int
    ) -> Tuple[np.ndarray, Any]:
        """The next chunk's features (W, F) -> its encoder output (1, t, D) and the next
        state (``required_cache_size``: encoder frames of attention context kept, -1 all)."""
