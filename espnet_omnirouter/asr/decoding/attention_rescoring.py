"""U2++ attention rescoring: the CTC n-best rescored by the attention decoder(s)."""

from typing import List, Sequence, Tuple

import torch

from espnet_omnirouter.utils.legacy_nets import add_sos_eos, pad_list

IGNORE_ID = -1


def _teacher_forcing_batch(
    token_lists: Sequence[Sequence[int]], sos: int, eos: int, device: torch.device
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """ESPnet's decoder inputs ``<sos> + tokens`` (N, L) padded with eos, targets
    ``tokens + <eos>`` (N, L) padded with IGNORE_ID, and their lengths (N,)."""
    ys = [torch.tensor(tokens, dtype=torch.long, device=device) for tokens in token_lists]
    ys_in, ys_out = add_sos_eos(pad_list(ys, IGNORE_ID), sos, eos, IGNORE_ID)
    lengths = torch.tensor([len(tokens) + 1 for tokens in token_lists], device=device)
    return ys_in, ys_out, lengths


def _sequence_log_probs(logits: torch.Tensor, ys_out: torch.Tensor) -> torch.Tensor:
    """Sum over each row of the log-probability of its targets (N, L), IGNORE_ID
    excluded: (N,)."""
    log_probs = logits.float().log_softmax(dim=-1)
    valid = ys_out != IGNORE_ID
    token_log_probs = log_probs.gather(-1, ys_out.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return token_log_probs.masked_fill(~valid, 0.0).sum(dim=-1)


@torch.no_grad()
def attention_rescoring(
    decoder: torch.nn.Module,
    encoder_out: torch.Tensor,
    hyps: Sequence[Tuple[Sequence[int], float]],
    sos: int,
    eos: int,
    ctc_weight: float = 0.0,
    reverse_weight: float = 0.0,
) -> Tuple[List[int], List[float]]:
    """Pick the best of a CTC n-best after scoring it with the attention decoder(s).

    U2++'s second pass (Wu et al., 2021; WeNet's ``attention_rescoring``). Each
    hypothesis is teacher-forced through the left-to-right decoder, giving
    ``l2r = log P(tokens, <eos>)``, and, if ``reverse_weight`` > 0, through the
    right-to-left decoder (``decoder.right_decoder``, see ``BiTransformerDecoder``) on
    its reversed tokens, giving ``r2l``. Its score is
    ``(1 - reverse_weight) * l2r + reverse_weight * r2l + ctc_weight * ctc_score``.
    The n-best runs through each decoder as one batch. Put the decoder in eval mode
    first (dropout).

    Args:
        decoder: An ESPnet Transformer decoder (``MoETransformerDecoder``, ...), or a
            ``BiTransformerDecoder`` when ``reverse_weight`` > 0.
        encoder_out: One utterance's encoder output (1, T, D) or (T, D).
        hyps: N (token ids, CTC log-probability) pairs, e.g. from
            ``ctc_prefix_beam_search``.
        sos, eos: The model's ``<sos>`` and ``<eos>`` ids.
        ctc_weight: Weight of the CTC score.
        reverse_weight: Weight of the right-to-left decoder, in [0, 1].

    Returns:
        The token ids of the best hypothesis and the N combined scores, in ``hyps``
        order.
    """
    if not hyps:
        raise ValueError("attention_rescoring needs at least one hypothesis")
    if not 0.0 <= reverse_weight <= 1.0:
        raise ValueError(f"reverse_weight must be in [0, 1], got {reverse_weight}")
    if reverse_weight > 0 and not hasattr(decoder, "forward_bidirectional"):
        raise ValueError(
            f"reverse_weight={reverse_weight} needs a right-to-left decoder "
            f"(BiTransformerDecoder); {type(decoder).__name__} has none: use reverse_weight=0"
        )
    if encoder_out.dim() == 2:
        encoder_out = encoder_out.unsqueeze(0)
    if encoder_out.dim() != 3 or encoder_out.size(0) != 1:
        raise ValueError(
            f"encoder_out must be one utterance, (1, T, D) or (T, D); got {encoder_out.shape}"
        )
    token_lists = [list(tokens) for tokens, _ in hyps]
    memory = encoder_out.expand(len(hyps), -1, -1)
    memory_lens = torch.full((len(hyps),), memory.size(1), device=memory.device)
    ys_in, ys_out, ys_in_lens = _teacher_forcing_batch(token_lists, sos, eos, memory.device)
    if reverse_weight > 0:
        r_ys_in, r_ys_out, _ = _teacher_forcing_batch(
            [tokens[::-1] for tokens in token_lists], sos, eos, memory.device
        )
        l_logits, r_logits, _ = decoder.forward_bidirectional(
            memory, memory_lens, ys_in, ys_in_lens, r_ys_in
        )
        r2l = _sequence_log_probs(r_logits, r_ys_out)
    else:
        l_logits, _ = decoder(memory, memory_lens, ys_in, ys_in_lens)
        r2l = torch.zeros(len(hyps), device=memory.device)
    l2r = _sequence_log_probs(l_logits, ys_out)
    ctc_scores = torch.tensor([float(score) for _, score in hyps], device=memory.device)
    scores = (1 - reverse_weight) * l2r + reverse_weight * r2l + ctc_weight * ctc_scores
    best = int(scores.argmax())
    return token_lists[best], scores.tolist()
