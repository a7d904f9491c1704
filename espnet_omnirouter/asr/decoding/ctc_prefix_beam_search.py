"""CTC prefix beam search: the n-best label sequences of CTC posteriors."""

from typing import List

import torch

from espnet_omnirouter.runtime.ctc_search import Hypothesis
from espnet_omnirouter.runtime.ctc_search import ctc_prefix_beam_search as numpy_prefix_beam_search


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
    of distinct prefixes, the scores are exact. The search itself is the torch-free
    runtime's (``runtime/ctc_search.py``), on the posteriors as a numpy array.

    Args:
        log_probs: CTC log-posteriors (T, V) of the valid frames.
        beam_size: Prefixes kept after each frame (and returned), >= 1.
        blank_id: The blank label.

    Returns:
        Up to ``beam_size`` (label ids, log-probability) pairs, best first.
    """
    if log_probs.dim() != 2:
        raise ValueError(f"log_probs must be (T, V), got shape {tuple(log_probs.shape)}")
    return numpy_prefix_beam_search(log_probs.detach().float().cpu().numpy(), beam_size, blank_id)


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
