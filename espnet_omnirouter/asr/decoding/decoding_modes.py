"""Decoding modes over a batch of waveforms: one encoder pass shared by the CTC modes and
attention rescoring; ESPnet's beam search and streaming decode one utterance at a time."""

import time
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

import torch

from espnet_omnirouter.asr.decoding.batch_search import (
    ctc_greedy,
    ctc_prefix_beam,
    encode,
    rescore_with_attention,
)
from espnet_omnirouter.asr.decoding.ctc_lexicon_decoder import CTCLexiconDecoder
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder
from espnet_omnirouter.asr.streaming import EagerStreamingRecognizer
from espnet_omnirouter.utils.legacy_nets import TooShortUttError

# Modes that share one batched encoder pass; "beam" (ESPnet's attention + CTC beam search)
# and "streaming" (chunk by chunk, from audio) decode one utterance at a time.
ENCODER_MODES = ("ctc_greedy", "ctc_lexicon_lm", "ctc_prefix_beam_search", "attention_rescoring")
MODES = (*ENCODER_MODES, "beam", "streaming")


def streams(model: torch.nn.Module) -> bool:
    """Whether ``model``'s encoder decodes with chunk attention and streams (U2++)."""
    return isinstance(model.encoder, U2ppConformerEncoder)


def auto_modes(model: torch.nn.Module, lexicon_lm: bool) -> List[str]:
    """The modes that suit ``model``, best first: with an attention decoder,
    ``attention_rescoring`` then ``ctc_prefix_beam_search`` (U2++ encoders, as WeNet
    decodes U2++) or ``ctc_greedy``; a CTC-only model: ``ctc_lexicon_lm`` where a lexicon
    and word LM are given (``lexicon_lm``), and ``ctc_greedy``."""
    if getattr(model, "decoder", None) is not None:
        return ["attention_rescoring", "ctc_prefix_beam_search" if streams(model) else "ctc_greedy"]
    return ["ctc_lexicon_lm", "ctc_greedy"] if lexicon_lm else ["ctc_greedy"]


@dataclass
class Decoding:
    """A loaded model and how to decode with it.

    Attributes:
        speech2text: ESPnet's ``Speech2Text`` (its ``beam_size`` serves the ``beam`` mode).
        modes: the modes of ``MODES`` to run.
        lexicon_decoder: for ``ctc_lexicon_lm``.
        ctc_beam_size: CTC prefix beam size, also the n-best size rescored.
        rescoring_ctc_weight, reverse_weight: attention rescoring's weights.
        chunk_size, num_left_chunks: ``streaming``'s chunks (encoder frames) and context.
        min_samples: shortest waveform the encoder can subsample to one frame; shorter
            ones (empty audio included) are decoded as the empty hypothesis.
    """

    speech2text: Any
    modes: Sequence[str]
    lexicon_decoder: Optional[CTCLexiconDecoder] = None
    ctc_beam_size: int = 10
    rescoring_ctc_weight: float = 0.5
    reverse_weight: float = 0.0
    chunk_size: int = 0
    num_left_chunks: int = -1
    min_samples: int = 1


def min_decodable_samples(model: torch.nn.Module, limit: int = 1 << 16) -> int:
    """Fewest samples that ``model.encode`` turns into at least one encoder frame
    (the encoder's input layer subsamples: ESPnet's conv2d needs 7 feature frames).

    Found by encoding silence of growing length (a handful of tiny forwards): below
    their limits the STFT's reflection padding raises ``RuntimeError`` and ESPnet's
    encoders ``TooShortUttError``.
    """
    frontend = getattr(model, "frontend", None)
    step = getattr(frontend, "hop_length", None) or 64
    error = None
    with torch.no_grad():
        for samples in range(step, limit + 1, step):
            try:
                _, lengths = model.encode(torch.zeros(1, samples), torch.tensor([samples]))
            except (TooShortUttError, RuntimeError) as too_short:
                error = too_short
                continue
            if int(lengths[0]) > 0:
                return samples
    raise ValueError(f"the model encodes no input of up to {limit} samples") from error


def make_decoding(
    speech2text,
    modes: Sequence[str],
    ctc_beam_size: int = 10,
    rescoring_ctc_weight: float = 0.5,
    reverse_weight: Optional[float] = None,
    chunk_size: int = 0,
    num_left_chunks: int = -1,
) -> Decoding:
    """Check ``modes`` against the model and set its chunk attention (``chunk_size`` > 0:
    U2++ encoders only; the ``streaming`` mode needs it). ``reverse_weight`` defaults to
    the model's. Raises ValueError naming what does not fit."""
    model = speech2text.asr_model
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise ValueError(f"unknown decoding modes {unknown}; choose from {MODES}")
    if chunk_size or "streaming" in modes:
        if not streams(model):
            raise ValueError("chunk attention and streaming need a u2pp_conformer encoder")
        if chunk_size < 1:
            raise ValueError("streaming needs a chunk size >= 1 (encoder frames)")
        model.encoder.set_decoding_chunk(chunk_size, num_left_chunks)
    if "attention_rescoring" in modes and getattr(model, "decoder", None) is None:
        raise ValueError("attention_rescoring needs a model with an attention decoder")
    if reverse_weight is None:
        reverse_weight = getattr(model, "reverse_weight", 0.0)
    return Decoding(
        speech2text, list(dict.fromkeys(modes)), None, ctc_beam_size, rescoring_ctc_weight,
        reverse_weight, chunk_size, num_left_chunks, min_decodable_samples(model),
    )  # fmt: skip


def decode_streaming(decoding: Decoding, wave: torch.Tensor) -> str:
    """Feed ``wave`` to an ``EagerStreamingRecognizer`` one chunk of audio at a time."""
    recognizer = EagerStreamingRecognizer(
        decoding.speech2text, decoding.chunk_size, decoding.num_left_chunks,
        decoding.ctc_beam_size, decoding.rescoring_ctc_weight, decoding.reverse_weight,
    )  # fmt: skip
    step = recognizer.stride * recognizer.hop_length
    for start in range(0, len(wave), step):
        recognizer.accept_waveform(wave[start : start + step].numpy())
    return recognizer.finalize()


def decode_waves(
    decoding: Decoding, waves: List[torch.Tensor]
) -> Dict[str, Tuple[List[str], float]]:
    """Decode waveforms in every mode: per mode, the texts (in input order) and seconds
    spent (the shared encoder pass counted in every mode that uses it). Waveforms shorter
    than ``decoding.min_samples`` get the empty text without being encoded."""
    decodable = [i for i, wave in enumerate(waves) if len(wave) >= decoding.min_samples]
    if len(decodable) == len(waves):
        return _decode_decodable_waves(decoding, waves)
    results = {mode: ([""] * len(waves), 0.0) for mode in decoding.modes}
    if decodable:
        decoded = _decode_decodable_waves(decoding, [waves[i] for i in decodable])
        for mode, (texts, seconds) in decoded.items():
            for index, text in zip(decodable, texts):
                results[mode][0][index] = text
            results[mode] = (results[mode][0], seconds)
    return results


def decode_encoded(
    decoding: Decoding,
    mode: str,
    encoded: torch.Tensor,
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
) -> List[str]:
    """Texts of one of ``ENCODER_MODES`` from a batch's encoder output (B, T, D), its CTC
    log-probabilities (B, T, V) and lengths (B,)."""
    speech2text = decoding.speech2text
    if mode == "ctc_greedy":
        return ctc_greedy(speech2text, log_probs, lengths)
    if mode == "ctc_lexicon_lm":
        return decoding.lexicon_decoder(log_probs, lengths)
    if mode == "ctc_prefix_beam_search":
        return ctc_prefix_beam(speech2text, log_probs, lengths, decoding.ctc_beam_size)
    if mode == "attention_rescoring":
        return rescore_with_attention(
            speech2text, encoded, log_probs, lengths, decoding.ctc_beam_size,
            decoding.rescoring_ctc_weight, decoding.reverse_weight,
        )  # fmt: skip
    raise ValueError(f"{mode} is not one of the modes of one encoder pass {ENCODER_MODES}")


def _decode_decodable_waves(
    decoding: Decoding, waves: List[torch.Tensor]
) -> Dict[str, Tuple[List[str], float]]:
    speech2text, results = decoding.speech2text, {}
    with torch.no_grad():
        if any(mode in ENCODER_MODES for mode in decoding.modes):
            start = time.perf_counter()
            encoded, lengths = encode(speech2text, waves)
            log_probs = speech2text.asr_model.ctc.log_softmax(encoded)
            encoder_seconds = time.perf_counter() - start
        for mode in decoding.modes:
            start = time.perf_counter()
            if mode in ENCODER_MODES:
                texts = decode_encoded(decoding, mode, encoded, log_probs, lengths)
            elif mode == "streaming":
                texts = [decode_streaming(decoding, wave) for wave in waves]
            else:
                texts = [speech2text(wave)[0][0] for wave in waves]
            seconds = time.perf_counter() - start
            results[mode] = (texts, seconds + (encoder_seconds if mode in ENCODER_MODES else 0))
    return results
