"""Decoding modes of the runtime, as the eager CLI's (``asr.decoding.decoding_modes``)."""

from typing import Optional, Tuple

import numpy as np

from .ctc_search import ctc_greedy_search, ctc_prefix_beam_search
from .exported_model import ExportedModel
from .streaming import OnnxStreamingRecognizer

MODES = ("ctc_greedy", "ctc_prefix_beam_search", "attention_rescoring", "streaming")


def check_mode(model: ExportedModel, mode: str, chunk_size: int) -> None:
    """Raise ValueError naming what the mode needs and the model lacks."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {MODES}")
    if (chunk_size or mode == "streaming") and not model.streaming:
        raise ValueError("chunk attention and streaming need a U2++ model (chunk_encoder.onnx)")
    if mode == "streaming" and chunk_size < 1:
        raise ValueError("streaming needs a chunk size >= 1 (encoder frames)")
    if mode == "attention_rescoring" and not model.has_decoder:
        raise ValueError("attention_rescoring needs a model with an attention decoder")


def encode_utterance(
    model: ExportedModel, samples: np.ndarray, chunk_size: int = 0, num_left_chunks: int = -1
) -> Tuple[np.ndarray, np.ndarray]:
    """Encoder output (1, T', D) and CTC log-probabilities (T', V) of one utterance's samples:
    full context, or chunk attention over the whole utterance with ``chunk_size`` > 0."""
    feats = model.features(samples)
    if chunk_size:
        encoder_out = model.encode_chunk_by_chunk(feats, chunk_size, num_left_chunks)
    else:
        encoder_out = model.encode(feats)
    return encoder_out, model.ctc_log_probs(encoder_out)


def decode(
    model: ExportedModel,
    samples: np.ndarray,
    mode: str = "ctc_greedy",
    ctc_beam_size: int = 10,
    chunk_size: int = 0,
    num_left_chunks: int = -1,
    rescoring_ctc_weight: float = 0.5,
    reverse_weight: Optional[float] = None,
) -> str:
    """Text of one utterance (1-D float samples at the model's rate).

    ``chunk_size`` > 0 (U2++): chunk attention (the chunk encoder over the whole
    utterance); ``streaming`` feeds the audio in pieces of one chunk's samples. Audio
    shorter than ``model.min_samples`` (empty audio included) gives the empty text.
    """
    check_mode(model, mode, chunk_size)
    if len(samples) < model.min_samples:
        return ""
    if mode == "streaming":
        recognizer = OnnxStreamingRecognizer(
            model, chunk_size, num_left_chunks, ctc_beam_size, rescoring_ctc_weight,
            reverse_weight,
        )  # fmt: skip
        step = recognizer.samples_per_chunk
        for start in range(0, len(samples), step):
            recognizer.accept_waveform(samples[start : start + step])
        return recognizer.finalize()
    encoder_out, log_probs = encode_utterance(model, samples, chunk_size, num_left_chunks)
    if mode == "ctc_greedy":
        return model.ids_to_text(ctc_greedy_search(log_probs, model.blank_id))
    nbest = ctc_prefix_beam_search(log_probs, ctc_beam_size, model.blank_id)
    if mode == "ctc_prefix_beam_search":
        return model.ids_to_text(nbest[0][0])
    best, _ = model.rescore(encoder_out, nbest, rescoring_ctc_weight, reverse_weight)
    return model.ids_to_text(best)
