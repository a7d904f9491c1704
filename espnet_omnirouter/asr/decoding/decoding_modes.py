"""Decoding modes over a batch of waveforms with an eager model: one batched encoder pass
shared by the CTC modes and attention rescoring, whose per-utterance search is the
runtime's (``runtime.decoding``, the same for exported models); the lexicon + word LM
search, ESPnet's beam search and streaming."""

import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import torch

from espnet_omnirouter.asr.decoding.ctc_lexicon_decoder import CTCLexiconDecoder
from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.runtime.decoding import ENCODER_MODES as SEARCH_MODES
from espnet_omnirouter.runtime.decoding import (
    DecodingOptions,
    ModeError,
    check_mode,
    decode_encoded,
    decode_streaming,
)
from espnet_omnirouter.utils.model_files import ResolvedModel

# Modes that share one batched encoder pass; "beam" (ESPnet's attention + CTC beam search)
# and "streaming" (chunk by chunk, from audio) decode one utterance at a time.
ENCODER_MODES = ("ctc_greedy", "ctc_lexicon_lm", "ctc_prefix_beam_search", "attention_rescoring")
MODES = (*ENCODER_MODES, "beam", "streaming")


def auto_modes(model: EagerModel, lexicon_lm: bool) -> List[str]:
    """The modes that suit ``model``, best first: with an attention decoder,
    ``attention_rescoring`` then ``ctc_prefix_beam_search`` (U2++ encoders, as WeNet
    decodes U2++) or ``ctc_greedy``; a CTC-only model: ``ctc_lexicon_lm`` where a lexicon
    and word LM are given (``lexicon_lm``), and ``ctc_greedy``."""
    if model.has_decoder:
        second = "ctc_prefix_beam_search" if model.chunk_attention else "ctc_greedy"
        return ["attention_rescoring", second]
    return ["ctc_lexicon_lm", "ctc_greedy"] if lexicon_lm else ["ctc_greedy"]


@dataclass
class Decoding:
    """A loaded model and how to decode with it.

    Attributes:
        model: the model (its ``speech2text``'s ``beam_size`` serves the ``beam`` mode).
        modes: the modes of ``MODES`` to run.
        options: beam sizes, rescoring weights, chunk attention (``DecodingOptions``).
        lexicon_decoder: for ``ctc_lexicon_lm``.
        files: the model's files, where it was loaded from a ``--model`` argument.
        lm_dir: the lexicon and word LM of ``lexicon_decoder``.
    """

    model: EagerModel
    modes: Sequence[str]
    options: DecodingOptions = DecodingOptions()
    lexicon_decoder: Optional[CTCLexiconDecoder] = None
    files: Optional[ResolvedModel] = None
    lm_dir: Optional[Path] = None


def make_decoding(
    model: EagerModel, modes: Sequence[str], options: Optional[DecodingOptions] = None
) -> Decoding:
    """Check ``modes`` and ``options`` (default: ``DecodingOptions()``) against the model;
    ``options.reverse_weight`` defaults to the model's. Raises ModeError naming what does
    not fit."""
    options = options or DecodingOptions()
    unknown = sorted(set(modes) - set(MODES))
    if unknown:
        raise ModeError(f"unknown decoding modes {unknown}; choose from {MODES}")
    for mode in modes:
        if mode in (*SEARCH_MODES, "streaming"):
            check_mode(model, mode, options.chunk_size)
    if options.chunk_size:
        check_mode(model, "ctc_greedy", options.chunk_size)
        if "beam" in modes:
            raise ModeError(
                "beam: ESPnet's beam search decodes with the encoder's configured context "
                "(encoder_conf.decoding_chunk_size), not a chunk size given here"
            )
    if options.reverse_weight is None:
        options = replace(options, reverse_weight=model.reverse_weight)
    return Decoding(model, list(dict.fromkeys(modes)), options)


def decode_waves(
    decoding: Decoding, waves: List[torch.Tensor]
) -> Dict[str, Tuple[List[str], float]]:
    """Decode waveforms in every mode: per mode, the texts (in input order) and seconds
    spent (the shared encoder pass counted in every mode that uses it). Waveforms shorter
    than the model's ``min_samples`` get the empty text without being encoded."""
    minimum = decoding.model.min_samples
    decodable = [i for i, wave in enumerate(waves) if len(wave) >= minimum]
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


def texts_of_encoded(
    decoding: Decoding,
    mode: str,
    encoded: torch.Tensor,
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
) -> List[str]:
    """Texts in one of ``ENCODER_MODES`` of a batch's encoder output (B, T, D), CTC
    log-probabilities (B, T, V) and lengths (B,)."""
    if mode == "ctc_lexicon_lm":
        if decoding.lexicon_decoder is None:
            raise ValueError("ctc_lexicon_lm needs a lexicon decoder (a word LM, --lm_dir)")
        return decoding.lexicon_decoder(log_probs, lengths)
    texts = []
    for i, length in enumerate(lengths.tolist()):
        encoder_out = encoded[i : i + 1, :length].float().numpy()
        utterance_log_probs = log_probs[i, :length].float().numpy()
        texts.append(
            decode_encoded(decoding.model, mode, encoder_out, utterance_log_probs, decoding.options)
        )
    return texts


def _decode_decodable_waves(
    decoding: Decoding, waves: List[torch.Tensor]
) -> Dict[str, Tuple[List[str], float]]:
    model, options, results = decoding.model, decoding.options, {}
    if any(mode in ENCODER_MODES for mode in decoding.modes):
        start = time.perf_counter()
        encoded, lengths = model.encode_waves(waves, options.chunk_size, options.num_left_chunks)
        log_probs = model.batch_ctc_log_probs(encoded)
        encoder_seconds = time.perf_counter() - start
    for mode in decoding.modes:
        start = time.perf_counter()
        if mode in ENCODER_MODES:
            texts = texts_of_encoded(decoding, mode, encoded, log_probs, lengths)
        elif mode == "streaming":
            texts = [decode_streaming(model, wave.numpy(), options) for wave in waves]
        else:
            with torch.no_grad():
                texts = [model.speech2text(wave)[0][0] for wave in waves]
        seconds = time.perf_counter() - start
        results[mode] = (texts, seconds + (encoder_seconds if mode in ENCODER_MODES else 0))
    return results
