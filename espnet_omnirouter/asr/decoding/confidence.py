"""Utterance confidence of a hypothesis, to keep the likely-correct pseudo-labels.

- ``ctc``: the mean posterior of the tokens on the CTC best path (each token's posterior is
  the highest of its frames' on that path; blank frames do not count, so long pauses
  neither raise nor lower it). An empty best path has confidence 0.
- ``agreement``: how far two decodings of the same audio agree, 1 minus their word edit
  distance over the longer one's length: the CTC greedy text against the text of a
  stronger search (lexicon + word LM, attention rescoring). Where an LM pulls the text far
  from what the acoustics say, one of them is wrong.
- ``both``: their product.
"""

from typing import List

import editdistance
import torch

CONFIDENCES = ("ctc", "agreement", "both")


def ctc_confidence(log_probs: torch.Tensor, lengths: torch.Tensor, blank_id: int) -> List[float]:
    """Mean token posterior of the CTC best path of each utterance.

    Args:
        log_probs: CTC log-probabilities (B, T, V).
        lengths: valid frames (B,).
        blank_id: the blank's index.
    Returns:
        One value in [0, 1] per utterance (0 where the best path is all blanks).
    """
    best, path = log_probs.max(dim=-1)  # (B, T)
    confidences = []
    for scores, tokens, length in zip(best.exp(), path, lengths.tolist()):
        scores, tokens = scores[:length], tokens[:length]
        # A token of the best path is a run of equal non-blank frames.
        starts = torch.ones_like(tokens, dtype=torch.bool)
        starts[1:] = tokens[1:] != tokens[:-1]
        run_ids = torch.cumsum(starts, dim=0) - 1
        run_best = torch.zeros(int(run_ids[-1]) + 1 if length else 0, dtype=scores.dtype)
        run_best = run_best.scatter_reduce(0, run_ids, scores, reduce="amax")
        emitted = tokens[starts] != blank_id
        confidences.append(float(run_best[emitted].mean()) if emitted.any() else 0.0)
    return confidences


def word_agreement(first: str, second: str) -> float:
    """1 - word edit distance / words of the longer text (1 when both are empty)."""
    a, b = first.split(), second.split()
    if not a and not b:
        return 1.0
    return 1.0 - editdistance.eval(a, b) / max(len(a), len(b))


def combine(ctc: float, agreement: float, kind: str) -> float:
    """The confidence ``kind`` (one of ``CONFIDENCES``) from its two measures."""
    if kind == "ctc":
        return ctc
    if kind == "agreement":
        return agreement
    if kind == "both":
        return ctc * agreement
    raise ValueError(f"confidence {kind!r}: choose from {CONFIDENCES}")
