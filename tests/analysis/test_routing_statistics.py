"""Streaming routing statistics: what accumulates, and the summary's numbers."""

import json

import numpy as np
import pytest

from espnet_omnirouter.analysis.routing_statistics import RoutingStatistics


def test_batches_accumulate_like_one_batch():
    rng = np.random.default_rng(0)
    choices = rng.integers(0, 4, (3, 900))
    entropies = rng.random((3, 900))
    whole, split = RoutingStatistics(["a", "b", "c"], 4), RoutingStatistics(["a", "b", "c"], 4)
    whole.update("set", choices, entropies)
    for part in np.array_split(np.arange(900), 4):
        split.update("set", choices[:, part], entropies[:, part])
    assert np.array_equal(whole.pair_counts, split.pair_counts)
    assert np.array_equal(whole.counts_by_set["set"], split.counts_by_set["set"])
    assert whole.frames == split.frames == 900
    assert np.allclose(whole.entropy_sum, split.entropy_sum)


def test_summary_of_known_routing():
    statistics = RoutingStatistics(["l0", "l1", "l2"], 2)
    # l1 copies l0, l2 is l0 with expert ids swapped; set "x" uses expert 0, "y" expert 1.
    l0 = np.array([0] * 30 + [1] * 10)
    choices = np.stack([l0, l0, 1 - l0])
    statistics.update("x", choices[:, :30], np.full((3, 30), 0.5))
    statistics.update("y", choices[:, 30:], np.full((3, 10), 0.1))
    summary = statistics.summary()
    assert summary["frames"] == 40
    assert summary["load"][0] == pytest.approx([0.75, 0.25])
    assert summary["load"][2] == pytest.approx([0.25, 0.75])
    assert summary["entropy"] == pytest.approx([0.4] * 3)
    assert summary["neighbour_agreement"] == pytest.approx([1.0, 0.0])
    assert np.allclose(summary["cramers_v"], 1.0) and np.allclose(summary["nmi"], 1.0)
    assert summary["usage_by_set"]["x"][0] == [1.0, 0.0]
    assert summary["domain_association"] == pytest.approx([1.0] * 3)
    json.dumps(summary)  # JSON-ready


def test_domain_association_needs_two_sets():
    statistics = RoutingStatistics(["l0"], 2)
    statistics.update("only", np.array([[0, 1, 1]]), np.zeros((1, 3)))
    assert statistics.summary()["domain_association"] == []
