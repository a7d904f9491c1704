"""Decoding a batch of waveforms with an ESPnet ``Speech2Text``: one encoder pass, then
CTC greedy search, CTC prefix beam search or attention rescoring (U2++'s modes)."""

from pathlib import Path
from typing import List, Tuple

import torch
import yaml

from espnet_omnirouter.asr.decoding.attention_rescoring import attention_rescoring
from espnet_omnirouter.asr.decoding.ctc_prefix_beam_search import batch_ctc_prefix_beam_search
from espnet_omnirouter.utils.model_config import config_with_resolved_files


def load_speech2text(config: Path, model_file: Path, beam_size: int):
    """ESPnet's ``Speech2Text`` on CPU; its beam search weighs CTC 0.3 in hybrid models
    and 1.0 in CTC-only ones. The files the config names relative to its recipe dir are
    found from any current directory (``config_with_resolved_files``)."""
    from espnet2.bin.asr_inference import Speech2Text

    with config_with_resolved_files(config) as resolved:
        return Speech2Text(
            asr_train_config=str(resolved),
            asr_model_file=str(model_file),
            device="cpu",
            beam_size=beam_size,
            ctc_weight=1.0 if _is_ctc_only(config) else 0.3,
            nbest=1,
        )


def _is_ctc_only(config: Path) -> bool:
    conf = yaml.safe_load(Path(config).read_text())
    return conf.get("decoder") is None or conf.get("model_conf", {}).get("ctc_weight") == 1.0


def encode(speech2text, waves: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Encoder output (B, T, D) and lengths (B,) of a batch of waveforms."""
    lengths = torch.tensor([len(w) for w in waves])
    speech = torch.nn.utils.rnn.pad_sequence(waves, batch_first=True)
    encoder_out, encoder_lengths = speech2text.asr_model.encode(speech, lengths)
    if isinstance(encoder_out, tuple):  # and the intermediate CTC outputs (interctc_layer_idx)
        encoder_out = encoder_out[0]
    return encoder_out, encoder_lengths


def ctc_log_probs(speech2text, waves: List[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """Encode a batch of waveforms: CTC log-probabilities (B, T, V) and lengths (B,)."""
    encoded, lengths = encode(speech2text, waves)
    return speech2text.asr_model.ctc.log_softmax(encoded), lengths


def ids_to_text(speech2text, token_ids: List[int]) -> str:
    tokens = speech2text.converter.ids2tokens(token_ids)
    return speech2text.tokenizer.tokens2text(tokens) if tokens else ""


def ctc_greedy(speech2text, log_probs: torch.Tensor, lengths: torch.Tensor) -> List[str]:
    """CTC best path: argmax per frame, merge repeats, drop blanks."""
    blank_id = speech2text.asr_model.blank_id
    texts = []
    for path, length in zip(log_probs.argmax(-1), lengths):
        ids = torch.unique_consecutive(path[:length])
        texts.append(ids_to_text(speech2text, [i for i in ids.tolist() if i != blank_id]))
    return texts


def ctc_prefix_beam(
    speech2text, log_probs: torch.Tensor, lengths: torch.Tensor, beam_size: int
) -> List[str]:
    """The best prefix of CTC prefix beam search for each utterance."""
    nbests = batch_ctc_prefix_beam_search(
        log_probs, lengths, beam_size, speech2text.asr_model.blank_id
    )
    return [ids_to_text(speech2text, nbest[0][0]) for nbest in nbests]


def rescore_with_attention(
    speech2text,
    encoded: torch.Tensor,
    log_probs: torch.Tensor,
    lengths: torch.Tensor,
    beam_size: int,
    ctc_weight: float,
    reverse_weight: float,
) -> List[str]:
    """U2++'s second pass: the CTC prefix beam n-best of each utterance rescored with the
    attention decoder(s) (left-to-right, and right-to-left if ``reverse_weight`` > 0)."""
    model = speech2text.asr_model
    if getattr(model, "decoder", None) is None:
        raise ValueError("attention rescoring needs a model with an attention decoder")
    texts = []
    nbests = batch_ctc_prefix_beam_search(log_probs, lengths, beam_size, model.blank_id)
    for index, (length, nbest) in enumerate(zip(lengths.tolist(), nbests)):
        best, _ = attention_rescoring(
            model.decoder, encoded[index : index + 1, :length], nbest,
            model.sos, model.eos, ctc_weight, reverse_weight,
        )  # fmt: skip
        texts.append(ids_to_text(speech2text, best))
    return texts
