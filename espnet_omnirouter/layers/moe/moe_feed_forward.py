"""Mixture-of-Experts position-wise feed-forward layer."""

from typing import Tuple

import torch

from espnet_omnirouter.layers.moe.config import MoEConfig, MoEConfigError
from espnet_omnirouter.layers.moe.dispatch import dispatch_and_combine
from espnet_omnirouter.layers.moe.experts import StackedExperts
from espnet_omnirouter.layers.moe.router import Router
from espnet_omnirouter.layers.moe.routing import RoutingRecord
from espnet_omnirouter.utils.legacy_nets import PositionwiseFeedForward


class MoEFeedForward(torch.nn.Module):
    """MoE replacement of ESPnet's ``PositionwiseFeedForward``, a function of its inputs.

    ``forward(xs (#batch, time, D), valid (#batch, time) or None, router=None)`` returns
    the output (#batch, time, D) and the forward's ``RoutingRecord``: each token goes to
    its top-k experts (Switch Transformer: top-1, full-softmax gate; U2++ MoE: top-2,
    top-k softmax gate) and their gated outputs are summed. Padding tokens (``valid``
    False) get a zero output and stay out of expert compute, losses and statistics. The
    layer keeps nothing between forwards: the blocks that call it report the record
    (``routing.report_routing``) to whoever collects it.

    The router is either this layer's own submodule (Switch, U2++ MoE) or, with
    ``shares_router``, a ``Router`` shared by several layers (Omni-router), which their
    owner (the encoder or decoder) keeps and passes to each forward.

    Args:
        input_size: D.
        hidden_units: Hidden size H of each expert.
        dropout_rate: Dropout inside each expert.
        activation: Expert activation module.
        num_experts: E.
        top_k: Experts per token.
        gate_normalization: ``full_softmax`` or ``topk_softmax``.
        shares_router: True: the router is shared and given to ``forward``; False:
            this layer creates its own.
        jitter_noise: Jitter of this layer's own router (ignored when shared).
        capacity_factor: None (no token dropping) or the expert capacity factor.
        load_balancing_weight: Weight of the load-balancing loss.
        z_loss_weight: Weight of the router z-loss.
        expert_backend: ``loop`` or ``grouped_mm`` (see ``StackedExperts``).
    """

    def __init__(
        self,
        input_size: int,
        hidden_units: int,
        dropout_rate: float,
        activation: torch.nn.Module,
        num_experts: int,
        top_k: int = 1,
        gate_normalization: str = "full_softmax",
        shares_router: bool = False,
        jitter_noise: float = 0.0,
        capacity_factor: float | None = None,
        load_balancing_weight: float = 0.0,
        z_loss_weight: float = 0.0,
        expert_backend: str = "loop",
    ):
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"top_k={top_k} must be in [1, num_experts={num_experts}]")
        self.router = None if shares_router else Router(input_size, num_experts, jitter_noise)
        self.input_size = input_size
        self.experts = StackedExperts(
            num_experts, input_size, hidden_units, dropout_rate, activation, expert_backend
        )
        self.num_experts = num_experts
        self.top_k = top_k
        self.gate_normalization = gate_normalization
        self.capacity_factor = capacity_factor
        self.load_balancing_weight = load_balancing_weight
        self.z_loss_weight = z_loss_weight
        self.layer_name = "moe"

    @classmethod
    def from_dense(cls, dense: torch.nn.Module, conf: MoEConfig, name: str) -> "MoEFeedForward":
        """The MoE replacement of ESPnet's ``PositionwiseFeedForward`` ``dense``: experts
        of its input and hidden sizes, dropout and activation, routed as ``conf`` says
        (with ``conf.shares_router``, by the router its owner passes to ``forward``)."""
        if not isinstance(dense, PositionwiseFeedForward):
            raise MoEConfigError(
                f"{name}: MoE layers replace linear FFNs only (ESPnet's PositionwiseFeedForward, "
                f"positionwise_layer_type: linear); got {type(dense).__name__}"
            )
        layer = cls(
            input_size=dense.w_1.in_features,
            hidden_units=dense.w_1.out_features,
            dropout_rate=dense.dropout.p,
            activation=dense.activation,
            num_experts=conf.num_experts,
            top_k=conf.top_k,
            gate_normalization=conf.gate_normalization,
            shares_router=conf.shares_router,
            jitter_noise=conf.jitter_noise,
            capacity_factor=conf.capacity_factor,
            load_balancing_weight=conf.load_balancing_weight,
            z_loss_weight=conf.z_loss_weight,
            expert_backend=conf.expert_backend,
        )
        layer.layer_name = name
        return layer

    @property
    def shares_router(self) -> bool:
        return self.router is None

    def forward(
        self, xs: torch.Tensor, valid: torch.Tensor | None = None, router: Router | None = None
    ) -> Tuple[torch.Tensor, RoutingRecord]:
        """(#batch, time, D) and its (#batch, time) valid mask (None: no padding), with
        the shared ``router`` of a layer that ``shares_router`` -> (#batch, time, D)
        and the forward's routing record."""
        router = self._router(router)
        tokens = xs.reshape(-1, xs.shape[-1])
        flat_valid = None if valid is None else valid.reshape(-1)
        decision = router(tokens, self.top_k, self.gate_normalization)
        combined = dispatch_and_combine(
            tokens, decision.expert_index, decision.gate, self.experts, flat_valid,
            self.capacity_factor,
        )  # fmt: skip
        return combined.view(xs.shape), RoutingRecord(self, decision, flat_valid)

    def _router(self, shared: Router | None) -> Router:
        if self.router is not None:
            if shared is not None:
                raise ValueError(f"{self.layer_name}: has its own router; got a shared one")
            return self.router
        if shared is None:
            raise ValueError(f"{self.layer_name}: shares its router; pass it to forward")
        if (shared.input_size, shared.num_experts) != (self.input_size, self.num_experts):
            raise ValueError(
                f"{self.layer_name}: shared router maps {shared.input_size} -> "
                f"{shared.num_experts} but this MoE layer has input size {self.input_size} "
                f"and {self.num_experts} experts"
            )
        return shared
