"""U2++ attention rescoring: the CTC n-best rescored by the attention decoder(s)."""

from typing import List, Sequence, Tuple

import numpy as np

from .ctc_search import Hypothesis
from .recognition_model import RecognitionModel

IGNORE_ID = -1


def teacher_forcing(
    token_lists: Sequence[Sequence[int]], sos: int, eos: int
) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Decoder inputs ``<sos> + tokens`` (N, L) padded with ``eos``, targets
    ``tokens + <eos>`` (N, L) padded with ``IGNORE_ID``, and input lengths (N,)."""
    length = max(len(tokens) for tokens in token_lists) + 1
    ys_in = np.full((len(token_lists), length), eos, np.int64)
    ys_out = np.full((len(token_lists), length), IGNORE_ID, np.int64)
    for row, tokens in enumerate(token_lists):
        ys_in[row, : len(tokens) + 1] = [sos, *tokens]
        ys_out[row, : len(tokens) + 1] = [*tokens, eos]
    return ys_in, ys_out, np.array([len(t) + 1 for t in token_lists], np.int64)


def sequence_log_probs(log_probs: np.ndarray, ys_out: np.ndarray) -> np.ndarray:
    """Sum over each row of the log-probabilities (N, L, V) of its targets (N, L),
    ``IGNORE_ID`` excluded: (N,)."""
    valid = ys_out != IGNORE_ID
    picked = np.take_along_axis(log_probs, np.maximum(ys_out, 0)[..., None], -1)[..., 0]
    return np.where(valid, picked, 0.0).sum(axis=-1, dtype=np.float64)


def attention_rescoring(
    model: RecognitionModel,
    encoder_out: np.ndarray,
    hyps: Sequence[Hypothesis],
    ctc_weight: float = 0.5,
    reverse_weight: float = 0.0,
) -> Tuple[List[int], List[float]]:
    """Pick the best of a CTC n-best after scoring it with the attention decoder(s).

    U2++'s second pass (Wu et al., 2021; WeNet's ``attention_rescoring``): each
    hypothesis is teacher-forced through the left-to-right decoder, giving
    ``l2r = log P(tokens, <eos>)``, and, if ``reverse_weight`` > 0, through the
    right-to-left decoder on its reversed tokens, giving ``r2l``; its score is
    ``(1 - reverse_weight) * l2r + reverse_weight * r2l + ctc_weight * ctc_score``. The
    n-best runs through each decoder as one batch.

    Args:
        model: A model with attention decoders.
        encoder_out: One utterance's encoder output (1, T, D).
        hyps: N (token ids, CTC log-probability) pairs, e.g. from prefix beam search.
        ctc_weight: Weight of the CTC score.
        reverse_weight: Weight of the right-to-left decoder, in [0, 1].

    Returns:
        The token ids of the best hypothesis and the N combined scores, in ``hyps`` order.
    """
    if not model.has_decoder:
        raise ValueError("attention rescoring needs a model with an attention decoder")
    if not hyps:
        raise ValueError("attention rescoring needs at least one hypothesis")
    if not 0.0 <= reverse_weight <= 1.0:
        raise ValueError(f"reverse_weight must be in [0, 1], got {reverse_weight}")
    token_lists = [list(tokens) for tokens, _ in hyps]
    ys_in, ys_out, lens = teacher_forcing(token_lists, model.sos, model.eos)
    r_ys_in = r_ys_out = None
    if reverse_weight > 0:
        reversed_lists = [tokens[::-1] for tokens in token_lists]
        r_ys_in, r_ys_out, _ = teacher_forcing(reversed_lists, model.sos, model.eos)
    l2r_log_probs, r2l_log_probs = model.decoder_log_probs(encoder_out, ys_in, lens, r_ys_in)
    l2r = sequence_log_probs(l2r_log_probs, ys_out)
    r2l = np.zeros_like(l2r)
    if reverse_weight > 0:
        if r2l_log_probs is None:
            raise ValueError(f"reverse_weight={reverse_weight} needs a right-to-left decoder")
        r2l = sequence_log_probs(r2l_log_probs, r_ys_out)
    ctc_scores = np.array([float(score) for _, score in hyps], dtype=np.float64)
    scores = (1 - reverse_weight) * l2r + reverse_weight * r2l + ctc_weight * ctc_scores
    return token_lists[int(scores.argmax())], scores.tolist()
