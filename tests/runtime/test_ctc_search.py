"""The CTC prefix beam search of every decoding path (runtime.ctc_search), against the
exact prefix probabilities of a brute-force sum over alignments."""

import itertools
import math
from collections import defaultdict

import numpy as np
import pytest
import torch

from espnet_omnirouter.runtime.ctc_search import CTCPrefixBeamSearch, ctc_prefix_beam_search


def brute_force_prefix_log_probs(log_probs: torch.Tensor, blank_id: int):
    """log P(prefix) for every prefix: log-sum-exp over all V^T alignments collapsing to it."""
    table = log_probs.float().tolist()
    probs = defaultdict(list)
    for path in itertools.product(range(log_probs.size(1)), repeat=log_probs.size(0)):
        merged = [label for i, label in enumerate(path) if i == 0 or label != path[i - 1]]
        prefix = tuple(label for label in merged if label != blank_id)
        probs[prefix].append(sum(table[t][label] for t, label in enumerate(path)))
    return {prefix: torch.tensor(scores, dtype=torch.float64).logsumexp(0).item()
            for prefix, scores in probs.items()}  # fmt: skip


@pytest.mark.parametrize("blank_id", [0, 2])
def test_wide_beam_gives_every_prefix_its_exact_probability(blank_id):
    torch.manual_seed(0)
    log_probs = torch.randn(5, 3).mul(2).log_softmax(-1)
    expected = brute_force_prefix_log_probs(log_probs, blank_id)
    nbest = ctc_prefix_beam_search(log_probs.numpy(), beam_size=100, blank_id=blank_id)
    assert {tuple(prefix) for prefix, _ in nbest} == set(expected)
    for prefix, score in nbest:
        assert score == pytest.approx(expected[tuple(prefix)], abs=1e-9)
    scores = [score for _, score in nbest]
    assert scores == sorted(scores, reverse=True)
    # Every alignment collapses to one prefix: the probabilities sum to one (float32 rows).
    assert math.log(sum(math.exp(s) for s in scores)) == pytest.approx(0.0, abs=1e-6)


def test_narrow_beam_keeps_beam_size_best_first():
    torch.manual_seed(1)
    log_probs = torch.randn(12, 6).log_softmax(-1)
    nbest = ctc_prefix_beam_search(log_probs.numpy(), beam_size=4)
    assert len(nbest) == 4
    scores = [score for _, score in nbest]
    assert scores == sorted(scores, reverse=True)
    assert len({tuple(prefix) for prefix, _ in nbest}) == 4


def test_peaky_posteriors_best_prefix_is_greedy_decoding():
    torch.manual_seed(2)
    path = torch.randint(0, 5, (30,))
    log_probs = (torch.nn.functional.one_hot(path, 5) * 12.0 + torch.randn(30, 5)).log_softmax(-1)
    greedy = [label for label in torch.unique_consecutive(log_probs.argmax(-1)).tolist() if label]
    (best, score), *_ = ctc_prefix_beam_search(log_probs.numpy(), beam_size=5)
    assert best == greedy and len(greedy) > 3
    best_path = log_probs.max(-1).values.sum().item()
    assert best_path <= score < best_path + 1e-2  # one alignment dominates


def test_no_frames_is_the_empty_prefix():
    assert ctc_prefix_beam_search(np.zeros((0, 4)), beam_size=3) == [([], 0.0)]


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"\(T, V\)"):
        ctc_prefix_beam_search(np.zeros((1, 5, 3)), beam_size=2)
    with pytest.raises(ValueError, match="beam_size"):
        ctc_prefix_beam_search(np.zeros((5, 3)), beam_size=0)


def test_search_fed_in_pieces_equals_the_search_of_all_frames():
    torch.manual_seed(3)
    log_probs = torch.randn(31, 6).log_softmax(-1).numpy()
    search = CTCPrefixBeamSearch(beam_size=4)
    for start, end in [(0, 1), (1, 8), (8, 8), (8, 20), (20, 31)]:
        search.advance(log_probs[start:end])
    assert search.nbest() == ctc_prefix_beam_search(log_probs, 4)
