"""What a MoE layer decided in one forward, and how a forward's decisions are collected.

A ``MoEFeedForward`` returns its ``RoutingRecord`` with its output and keeps nothing.
The blocks that call MoE layers hand each record to ``report_routing``; whoever needs
the records of a computation (the model's loss, the routing analysis) runs it inside
``collect_routing()``, which gathers the records of that computation only:

    with collect_routing() as records:
        loss, stats, weight = model(**batch)
    aux = sum(r.weighted_auxiliary_loss() for r in records)

Outside such a block the records are dropped (decoding keeps none); a layer that did not
run (layer drop, stochastic depth) reports nothing; nested blocks each get every record
reported inside them. Collection is per thread and per asyncio task (a ``ContextVar``).
"""

import contextlib
import functools
from contextvars import ContextVar
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

_collectors: ContextVar[Tuple[List["RoutingRecord"], ...]] = ContextVar(
    "espnet_omnirouter_routing_collectors", default=()
)


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
    token = _collectors.set((*_collectors.get(), records))
    try:
        yield records
    finally:
        _collectors.reset(token)


def report_routing(record: RoutingRecord) -> None:
    """Give ``record`` to every ``collect_routing`` block running now (none: dropped)."""
    for records in _collectors.get():
        records.append(record)
