"""The decoding modes, written once for every ``RecognitionModel`` (the exported model and
the eager one): CTC greedy search, CTC prefix beam search, attention rescoring and
streaming."""

from dataclasses import dataclass
from typing import Optional

import numpy as np

from .ctc_search import ctc_greedy_search, ctc_prefix_beam_search
from .recognition_model import RecognitionModel
from .rescoring import attention_rescoring
from .streaming import StreamingRecognizer

MODES = ("ctc_greedy", "ctc_prefix_beam_search", "attention_rescoring", "streaming")
# Modes whose text comes from one encoder pass over the whole utterance.
ENCODER_MODES = ("ctc_greedy", "ctc_prefix_beam_search", "attention_rescoring")


class ModeError(ValueError):
    """A decoding mode or option that the model cannot decode with."""


@dataclass(frozen=True)
class DecodingOptions:
    """How to decode.

    Attributes:
        ctc_beam_size: CTC prefix beam size, also the n-best size that is rescored.
        rescoring_ctc_weight: weight of the CTC score in attention rescoring.
        reverse_weight: weight of the right-to-left decoder (None: the model's).
        chunk_size: encoder frames per attention chunk (0: full context); streaming's
            chunks.
        num_left_chunks: earlier chunks each chunk attends to (-1: all).
    """

    ctc_beam_size: int = 10
    rescoring_ctc_weight: float = 0.5
    reverse_weight: Optional[float] = None
    chunk_size: int = 0
    num_left_chunks: int = -1


def check_mode(model: RecognitionModel, mode: str, chunk_size: int) -> None:
    """Raise ModeError naming what the mode needs and the model lacks."""
    if mode not in MODES:
        raise ModeError(f"unknown mode {mode!r}; choose from {MODES}")
    if chunk_size < 0:
        raise ModeError(f"chunk size must be >= 0 (0: full context), got {chunk_size}")
    if chunk_size and not model.chunk_attention:
        raise ModeError("chunk attention needs a U2++ model (encoder: u2pp_conformer)")
    if mode == "streaming":
        if not model.streamable:
            raise ModeError(
                "streaming needs a U2++ model with causal convolution (encoder: "
                "u2pp_conformer, causal: true; causal: false decodes with chunk attention)"
            )
        if chunk_size < 1:
            raise ModeError("streaming needs a chunk size >= 1 (encoder frames)")
    if mode == "attention_rescoring" and not model.has_decoder:
        raise ModeError("attention_rescoring needs a model with an attention decoder")


def decode_encoded(
    model: RecognitionModel,
    mode: str,
    encoder_out: np.ndarray,
    log_probs: np.ndarray,
    options: DecodingOptions,
) -> str:
    """Text of one of ``ENCODER_MODES`` from one utterance's encoder output (1, T, D)
    and its CTC log-probabilities (T, V)."""
    if mode == "ctc_greedy":
        return model.ids_to_text(ctc_greedy_search(log_probs, model.blank_id))
    nbest = ctc_prefix_beam_search(log_probs, options.ctc_beam_size, model.blank_id)
    if mode == "ctc_prefix_beam_search":
        return model.ids_to_text(nbest[0][0])
    if mode == "attention_rescoring":
        reverse_weight = (
            model.reverse_weight if options.reverse_weight is None else options.reverse_weight
        )
        best, _ = attention_rescoring(
            model, encoder_out, nbest, options.rescoring_ctc_weight, reverse_weight
        )
        return model.ids_to_text(best)
    raise ValueError(f"{mode} is not one of the modes of one encoder pass {ENCODER_MODES}")


def decode_streaming(model: RecognitionModel, samples: np.ndarray, options: DecodingOptions) -> str:
    """``samples`` fed to a ``StreamingRecognizer`` one chunk of audio at a time."""
    recognizer = StreamingRecognizer(
        model, options.chunk_size, options.num_left_chunks, options.ctc_beam_size,
        options.rescoring_ctc_weight, options.reverse_weight,
    )  # fmt: skip
    step = recognizer.samples_per_chunk
    for start in range(0, len(samples), step):
        recognizer.accept_waveform(samples[start : start + step])
    return recognizer.finalize()


def decode(
    model: RecognitionModel,
    samples: np.ndarray,
    mode: str = "ctc_greedy",
    options: DecodingOptions = DecodingOptions(),
) -> str:
    """Text of one utterance (1-D float samples at the model's rate). Audio shorter
    than ``model.min_samples`` (empty audio included) gives the empty text."""
    check_mode(model, mode, options.chunk_size)
    if len(samples) < model.min_samples:
        return ""
    if mode == "streaming":
        return decode_streaming(model, samples, options)
    encoder_out = model.encode(model.features(samples), options.chunk_size, options.num_left_chunks)
    return decode_encoded(model, mode, encoder_out, model.ctc_log_probs(encoder_out), options)


def resolve_auto_mode(model: RecognitionModel, chunk_size: int) -> tuple:
    """``auto``'s mode and chunk size: ``streaming`` by ``chunk_size`` chunks for a model
    that streams (U2++ with causal convolution) when a chunk size is given, else
    ``ctc_greedy`` in full context."""
    if model.streamable and chunk_size > 0:
        return "streaming", chunk_size
    return "ctc_greedy", 0
