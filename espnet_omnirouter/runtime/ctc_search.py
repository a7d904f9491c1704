"""CTC decoding in numpy: best path and prefix beam search (the eager decoders'
``asr/decoding/ctc_prefix_beam_search.py`` runs this one on torch tensors' values)."""

import heapq
import math
from collections import defaultdict
from typing import Dict, List, Tuple

import numpy as np

Hypothesis = Tuple[List[int], float]


def ctc_greedy_search(log_probs: np.ndarray, blank_id: int = 0) -> List[int]:
    """Best path of (T, V) CTC log-probabilities: argmax per frame, repeats merged,
    blanks removed."""
    path = log_probs.argmax(axis=-1)
    if len(path) == 0:
        return []
    keep = np.concatenate([[True], path[1:] != path[:-1]])
    return [int(label) for label in path[keep] if label != blank_id]


def _log_add(*values: float) -> float:
    largest = max(values)
    if largest == -math.inf:
        return -math.inf
    return largest + math.log(sum(math.exp(v - largest) for v in values))


_BLANK_END, _LABEL_END = 0, 1


def _accumulate(
    beams: Dict[Tuple[int, ...], List[float]], prefix: Tuple[int, ...], ending: int, log_p: float
) -> None:
    """Add alignments of ``prefix`` ending as ``ending`` says; none with no probability."""
    if log_p > -math.inf:
        beams[prefix][ending] = _log_add(beams[prefix][ending], log_p)


class CTCPrefixBeamSearch:
    """Prefix beam search over CTC log-probabilities that arrive in pieces (a stream):
    ``advance`` with each piece's (t, V) frames, ``nbest`` at any time. The frames are
    searched once, so a stream's partial results cost its new frames only; the result
    equals ``ctc_prefix_beam_search`` over all the frames at once."""

    def __init__(self, beam_size: int, blank_id: int = 0):
        if beam_size < 1:
            raise ValueError(f"beam_size must be >= 1, got {beam_size}")
        self.beam_size, self.blank_id = beam_size, blank_id
        self.beams: Dict[Tuple[int, ...], List[float]] = {(): [0.0, -math.inf]}

    def advance(self, log_probs: np.ndarray) -> None:
        """Extend every prefix over the next (t, V) frames."""
        if log_probs.ndim != 2:
            raise ValueError(f"log_probs must be (T, V), got shape {log_probs.shape}")
        beam_size, blank_id = self.beam_size, self.blank_id
        labels_per_frame = min(beam_size, log_probs.shape[1])
        # Ties broken by the lower label first, as torch.topk does on CPU.
        top_labels = np.argsort(-log_probs, axis=-1, kind="stable")[:, :labels_per_frame]
        top_log_probs = np.take_along_axis(log_probs, top_labels, axis=-1).astype(np.float64)
        beams = self.beams
        for frame_log_probs, frame_labels in zip(top_log_probs.tolist(), top_labels.tolist()):
            extended: Dict[Tuple[int, ...], List[float]] = defaultdict(
                lambda: [-math.inf, -math.inf]
            )
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
        self.beams = beams

    def nbest(self) -> List[Hypothesis]:
        """The best prefixes so far with their total log-probabilities, best first."""
        return [(list(prefix), _log_add(*scores)) for prefix, scores in self.beams.items()]


def ctc_prefix_beam_search(
    log_probs: np.ndarray, beam_size: int, blank_id: int = 0
) -> List[Hypothesis]:
    """The ``beam_size`` best label sequences of (T, V) CTC log-probabilities with their
    total log-probabilities, best first (Graves 2012; WeNet's ``ctc_prefix_beam_search``):
    each prefix keeps the probability of its alignments ending in a blank and in its last
    label; each frame considers its ``beam_size`` most likely labels."""
    if log_probs.ndim != 2:
        raise ValueError(f"log_probs must be (T, V), got shape {log_probs.shape}")
    search = CTCPrefixBeamSearch(beam_size, blank_id)
    search.advance(log_probs)
    return search.nbest()
