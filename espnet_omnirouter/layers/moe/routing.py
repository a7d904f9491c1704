"""What a MoE layer decided in one forward, and how a forward's decisions are collected.

A ``MoEFeedForward`` returns its ``RoutingRecord`` with its output and keeps nothing.
The blocks that call MoE layers hand each record to ``report_routing``; whoever needs
the records of a computation (the model's loss, the routing analysis) runs it inside
``collect_routing()``, which gathers the records of that computation only:

    with collect_routing() as records:
        loss, stats, weight = model(**batch)
    aux_loss, moe_stats = summarize_routing(records)

Outside such a block the records are dropped (decoding keeps none); a layer that did not
run (layer drop, stochastic depth) reports nothing; nested blocks each get every record
reported inside them. Collection is per thread (a ``threading.local``, which
``torch.compile`` traces: a compiled forward reports its records like an eager one).
"""

import contextlib
import functools
import threading
from typing import TYPE_CHECKING, Dict, Iterator, List, Tuple

import torch

from espnet_omnirouter.layers.moe.losses import (
    expert_load,
    load_balancing_loss,
    router_entropy,
    router_z_loss,
)
from espnet_omnirouter.layers.moe.router import RoutingDecision

if TYPE_CHECKING:
    from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward


class _CollectorState(threading.local):
    """Per thread: the record lists of the ``collect_routing`` blocks running in it,
    outermost first."""

    def __init__(self):
        self.collectors: Tuple[List[RoutingRecord], ...] = ()


_state = _CollectorState()


class RoutingRecord:
    """One forward of one MoE layer: its routing decision over every token, and which
    tokens were real.

    ``decision`` covers every token of the forward and ``valid`` (#tokens,) marks the
    non-padding ones (None: all). ``logits``, ``probs`` and ``expert_index`` are the
    decision restricted to valid tokens, computed on first access (analysis reads them;
    training does not, and pays no boolean indexing).

    Attributes:
        layer: The MoE layer (its name, expert count and loss weights).
        logits: (#valid tokens, E) float32 router logits.
        probs: (#valid tokens, E) router probabilities.
        expert_index: (#valid tokens, top_k) chosen experts.
    """

    def __init__(
        self, layer: "MoEFeedForward", decision: RoutingDecision, valid: torch.Tensor | None
    ):
        self.layer = layer
        self.decision = decision
        self.valid = valid

    @property
    def layer_name(self) -> str:
        return self.layer.layer_name

    def _restricted(self, tensor: torch.Tensor) -> torch.Tensor:
        return tensor if self.valid is None else tensor[self.valid]

    @functools.cached_property
    def logits(self) -> torch.Tensor:
        return self._restricted(self.decision.logits)

    @functools.cached_property
    def probs(self) -> torch.Tensor:
        return self._restricted(self.decision.probs)

    @functools.cached_property
    def expert_index(self) -> torch.Tensor:
        return self._restricted(self.decision.expert_index)

    def auxiliary_losses(self) -> Dict[str, torch.Tensor]:
        """Unweighted load-balancing loss and router z-loss over the valid tokens."""
        decision, valid = self.decision, self.valid
        return {
            "load_balancing_loss": load_balancing_loss(
                decision.probs, decision.expert_index, valid
            ),
            "z_loss": router_z_loss(decision.logits, valid),
        }

    def weighted_auxiliary_loss(self, losses: Dict[str, torch.Tensor]) -> torch.Tensor:
        """``load_balancing_weight * lb + z_loss_weight * z`` of ``auxiliary_losses()``."""
        return (
            self.layer.load_balancing_weight * losses["load_balancing_loss"]
            + self.layer.z_loss_weight * losses["z_loss"]
        )

    def statistics(self) -> Dict[str, torch.Tensor]:
        """Expert load fractions (E,) and mean router entropy over the valid tokens."""
        decision, valid = self.decision, self.valid
        with torch.no_grad():
            return {
                "load": expert_load(decision.expert_index, self.layer.num_experts, valid),
                "entropy": router_entropy(decision.probs, valid),
            }


@contextlib.contextmanager
def collect_routing() -> Iterator[List[RoutingRecord]]:
    """Gather the records reported while the block runs, in the order they were."""
    records: List[RoutingRecord] = []
    outer = _state.collectors
    _state.collectors = (*outer, records)
    try:
        yield records
    finally:
        _state.collectors = outer


def report_routing(record: RoutingRecord) -> None:
    """Give ``record`` to every ``collect_routing`` block running now (none: dropped)."""
    for records in _state.collectors:
        records.append(record)


def summarize_routing(records: List[RoutingRecord]) -> Tuple[torch.Tensor, Dict[str, torch.Tensor]]:
    """The auxiliary loss and the statistics of one forward's ``records`` (non-empty).

    Returns:
        ``moe_aux_loss``: the sum over the records of ``weighted_auxiliary_loss`` (Switch
        Transformer's per-token scale), and the statistics, all 0-dim and detached:
        ``moe_aux_loss``, ``moe_load_balancing_loss`` and ``moe_z_loss`` (unweighted means
        over the records: 1.0 is balanced) and, per layer, ``moe_<layer>_entropy`` (mean
        router entropy) and ``moe_<layer>_load_max`` (the busiest expert's share of the
        tokens: 1/E when balanced, 1 when collapsed). Tensors only: nothing is read on
        the host.
    """
    losses = [record.auxiliary_losses() for record in records]
    aux_loss = torch.stack(
        [record.weighted_auxiliary_loss(item) for record, item in zip(records, losses)]
    ).sum()
    stats = {"moe_aux_loss": aux_loss.detach()}
    with torch.no_grad():
        for key in losses[0]:
            stats[f"moe_{key}"] = torch.stack([item[key] for item in losses]).mean()
        for record in records:
            routing = record.statistics()
            stats[f"moe_{record.layer_name}_entropy"] = routing["entropy"]
            stats[f"moe_{record.layer_name}_load_max"] = routing["load"].max()
    return aux_loss, stats
