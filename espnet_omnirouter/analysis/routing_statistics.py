"""Streaming statistics of the expert choices of a model's MoE layers.

Counts are accumulated batch by batch (memory does not grow with the data): per pair of
layers the contingency table of their top-1 choices, per test set and layer the expert
counts, per layer the summed router entropy. ``summary()`` turns them into the numbers
of the Omni-router paper's analysis.
"""

from typing import Dict, List, Sequence

import numpy as np

from espnet_omnirouter.analysis.association import (
    contingency_table,
    cramers_v,
    normalized_mutual_information,
)


class RoutingStatistics:
    """Routing statistics of L MoE layers with E experts each.

    Args:
        layer_names: the MoE layers, in depth order (e.g. ``enc0_macaron``).
        num_experts: E.
    """

    def __init__(self, layer_names: Sequence[str], num_experts: int):
        self.layer_names = list(layer_names)
        self.num_experts = num_experts
        num_layers = len(self.layer_names)
        self.pair_counts = np.zeros((num_layers, num_layers, num_experts, num_experts), np.int64)
        self.counts_by_set: Dict[str, np.ndarray] = {}
        self.entropy_sum = np.zeros(num_layers)
        self.frames = 0

    def update(self, set_name: str, choices: np.ndarray, entropies: np.ndarray) -> None:
        """Add one batch of frames.

        Args:
            set_name: the data set the frames come from.
            choices: (L, N) top-1 expert of each layer for N non-padding frames.
            entropies: (L, N) router entropy (nats) of each layer for those frames.
        """
        num_layers, num_experts = len(self.layer_names), self.num_experts
        for first in range(num_layers):
            for second in range(first, num_layers):
                table = contingency_table(choices[first], choices[second], num_experts, num_experts)
                self.pair_counts[first, second] += table
                if second != first:
                    self.pair_counts[second, first] += table.T
        counts = self.counts_by_set.setdefault(set_name, np.zeros((num_layers, num_experts)))
        for layer in range(num_layers):
            counts[layer] += np.bincount(choices[layer], minlength=num_experts)
        self.entropy_sum += entropies.sum(axis=1)
        self.frames += choices.shape[1]

    def association(self, measure: str = "cramers_v") -> np.ndarray:
        """(L, L) association between the layers' choices: ``cramers_v`` or ``nmi``."""
        function = {"cramers_v": cramers_v, "nmi": normalized_mutual_information}[measure]
        num_layers = len(self.layer_names)
        return np.array(
            [
                [function(self.pair_counts[i, j]) for j in range(num_layers)]
                for i in range(num_layers)
            ]
        )

    def summary(self) -> dict:
        """JSON-ready statistics.

        Keys: ``layers``, ``num_experts``, ``frames``; per layer ``load`` (share of frames
        per expert), ``entropy`` (mean router entropy, nats; log E is uniform),
        ``neighbour_agreement`` (share of frames where layer l and l+1 pick the same
        expert index: with a shared router, the same router column); ``cramers_v`` and
        ``nmi`` (L x L); per test set ``usage_by_set`` (L x E shares) and per layer
        ``domain_association`` (Cramér's V between test set and expert: how much the
        experts specialise by condition; needs two or more sets).
        """
        num_layers = len(self.layer_names)
        frames = max(self.frames, 1)
        total = sum(self.counts_by_set.values(), np.zeros((num_layers, self.num_experts)))
        agreement = [
            float(np.trace(self.pair_counts[i, i + 1])) / frames for i in range(num_layers - 1)
        ]
        usage = {
            name: (counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)).tolist()
            for name, counts in self.counts_by_set.items()
        }
        domain: List[float] = []
        if len(self.counts_by_set) > 1:
            per_set = np.stack(list(self.counts_by_set.values()))  # (S, L, E)
            domain = [cramers_v(per_set[:, layer]) for layer in range(num_layers)]
        return {
            "layers": self.layer_names,
            "num_experts": self.num_experts,
            "frames": self.frames,
            "load": (total / frames).tolist(),
            "entropy": (self.entropy_sum / frames).tolist(),
            "neighbour_agreement": agreement,
            "cramers_v": self.association("cramers_v").tolist(),
            "nmi": self.association("nmi").tolist(),
            "usage_by_set": usage,
            "domain_association": domain,
        }
