"""CTC prefix beam search: the n-best label sequences of CTC posteriors."""

import heapq
import math
from collections import defaultdict
from typing import Dict, List, Tuple

import torch

Hypothesis = Tuple[List[int], float]


def _log_add(*values: float) -> float:
    """log(sum(exp(values))), -inf for no probability."""
    largest = max(values)
    if largest == -math.inf:
        return -math.inf
    return largest + math.log(sum(math.exp(v - largest) for v in values))


_BLANK_END, _LABEL_END = 0, 1


def _accumulate(
    beams: Dict[Tuple[int, ...], List[float]], prefix: Tuple[int, ...], ending: int, log_p: float
) -> None:
    """Add the probability of more alignments of ``prefix`` that end as ``ending`` says;
    prefixes with no probability are never created."""
    if log_p > -math.inf:
        beams[prefix][ending] = _log_add(beams[prefix][ending], log_p)


def ctc_prefix_beam_search(
    log_probs: torch.Tensor, beam_size: int, blank_id: int = 0
) -> List[Hypothesis]:
    """The ``beam_size`` best label sequences (prefixes) of one utterance's CTC output.

    A prefix's score is its total CTC log-probability: the log-sum-exp over every frame
    alignment that collapses to it (repeats merged, blanks removed). Each prefix keeps
    two scores, of its alignments ending in a blank and in its last label, because a
    repeated label extends the prefix only after a blank (Graves, 2012; Hannun et al.,
    2014; WeNet's ``ctc_prefix_beam_search``). Each frame considers its ``beam_size``
    most likely labels; with ``beam_size`` at least the vocabulary size and the number
    of distinct prefixes, the scores are exact.

    Args:
        log_probs: CTC log-posteriors (T, V) of the valid frames.
        beam_size: Prefixes kept after each frame (and returned), >= 1.
        blank_id: The blank label.

    Returns:
        Up to ``beam_size`` (label ids, log-probability) pairs, best first.
    """
    if log_probs.dim() != 2:
        raise ValueError(f"log_probs must be (T, V), got shape {tuple(log_probs.shape)}")
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    labels_per_frame = min(beam_size, log_probs.size(1))
    top_log_probs, top_labels = log_probs.detach().float().topk(labels_per_frame, dim=-1)
    # prefix -> [log P(alignments ending in blank), log P(alignments ending in its last label)]
    beams: Dict[Tuple[int, ...], List[float]] = {(): [0.0, -math.inf]}
    for frame_log_probs, frame_labels in zip(top_log_probs.tolist(), top_labels.tolist()):
        extended: Dict[Tuple[int, ...], List[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (blank_end, label_end) in beams.items():
            last = prefix[-1] if prefix else None
            either_end = _log_add(blank_end, label_end)
            for log_p, label in zip(frame_log_probs, frame_labels):
                if label == blank_id:
                    _accumulate(extended, prefix, _BLANK_END, either_end + log_p)
                elif label == last:
                    # The last label repeated merges into it, unless a blank separates them.
                    _accumulate(extended, prefix, _LABEL_END, label_end + log_p)
                    _accumulate(extended, prefix + (label,), _LABEL_END, blank_end + log_p)
                else:
                    _accumulate(extended, prefix + (label,), _LABEL_END, either_end + log_p)
        best = heapq.nlargest(beam_size, extended.items(), key=lambda item: _log_add(*item[1]))
        beams = dict(best)
    return [(list(prefix), _log_add(*scores)) for prefix, scores in beams.items()]


def batch_ctc_prefix_beam_search(
    log_probs: torch.Tensor, lengths: torch.Tensor, beam_size: int, blank_id: int = 0
) -> List[List[Hypothesis]]:
    """``ctc_prefix_beam_search`` of each utterance of a batch.

    Args:
        log_probs: CTC log-posteriors (#batch, T, V).
        lengths: Valid frames of each utterance (#batch,).

    Returns:
        For each utterance, its n-best (label ids, log-probability) pairs, best first.
    """
    return [
        ctc_prefix_beam_search(utterance[:length], beam_size, blank_id)
        for utterance, length in zip(log_probs, lengths.tolist())
    ]
