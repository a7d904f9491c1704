"""Mixture-of-Experts position-wise feed-forward layer."""

import functools
from typing import Dict

import torch

from espnet_omnirouter.layers.moe.config import MoEConfig, MoEConfigError
from espnet_omnirouter.layers.moe.dispatch import dispatch_and_combine, expert_capacity
from espnet_omnirouter.layers.moe.experts import StackedExperts
from espnet_omnirouter.layers.moe.losses import (
    expert_load,
    load_balancing_loss,
    router_entropy,
    router_z_loss,
)
from espnet_omnirouter.layers.moe.router import Router, RoutingDecision
from espnet_omnirouter.utils.legacy_nets import (
    PositionwiseFeedForward,
)


class RoutingRecord:
    """What a MoE layer decided in its last forward.

    ``decision`` covers every token of the forward and ``valid`` (#tokens,) marks the
    non-padding ones (None: all). ``logits``, ``probs`` and ``expert_index`` are the
    decision restricted to valid tokens, computed on first access (analysis reads
    them; training and decoding do not, and pay no boolean indexing).

    Attributes:
        logits: (#valid tokens, E) float32 router logits.
        probs: (#valid tokens, E) router probabilities.
        expert_index: (#valid tokens, top_k) chosen experts.
    """

    def __init__(self, decision: RoutingDecision, valid: torch.Tensor | None):
        self.decision = decision
        self.valid = valid

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


class MoEFeedForward(torch.nn.Module):
    """Drop-in MoE replacement of ESPnet's ``PositionwiseFeedForward``.

    ``forward`` maps (#batch, time, D) to (#batch, time, D): each token goes to its
    top-k experts (Switch Transformer: top-1, full-softmax gate; U2++ MoE: top-2,
    top-k softmax gate) and their gated outputs are summed.

    The router is either this layer's own (``router=None``: Switch, U2++ MoE) or a
    ``Router`` shared with other layers (Omni-router). A shared router is owned, and
    saved in the state dict, by the module that created it, not by this layer.

    Padding frames are excluded from routing losses, statistics and expert compute
    when the owner sets ``valid_frames`` (#batch, time) before the forward, since
    ESPnet's encoder layers call the FFN without a mask.

    Args:
        input_size: D.
        hidden_units: Hidden size H of each expert.
        dropout_rate: Dropout inside each expert.
        activation: Expert activation module.
        num_experts: E.
        top_k: Experts per token.
        gate_normalization: ``full_softmax`` or ``topk_softmax``.
        router: A shared ``Router``, or None to create this layer's own.
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
        router: Router | None = None,
        jitter_noise: float = 0.0,
        capacity_factor: float | None = None,
        load_balancing_weight: float = 0.0,
        z_loss_weight: float = 0.0,
        expert_backend: str = "loop",
    ):
        super().__init__()
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"top_k={top_k} must be in [1, num_experts={num_experts}]")
        if router is None:
            self.router = Router(input_size, num_experts, jitter_noise)
        else:
            if (router.input_size, router.num_experts) != (input_size, num_experts):
                raise ValueError(
                    f"shared router maps {router.input_size} -> {router.num_experts} but "
                    f"this MoE layer has input size {input_size} and {num_experts} experts"
                )
            # Bypass Module.__setattr__ so the shared router is not a submodule here.
            self.__dict__["router"] = router
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
        self.valid_frames: torch.Tensor | None = None
        self.last_routing: RoutingRecord | None = None

    @classmethod
    def from_dense(
        cls, dense: torch.nn.Module, conf: MoEConfig, router: Router | None, name: str
    ) -> "MoEFeedForward":
        """The MoE replacement of ESPnet's ``PositionwiseFeedForward`` ``dense``: experts
        of its input and hidden sizes, dropout and activation, routed as ``conf`` says
        (``router``: a shared one, or None for the layer's own)."""
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
            router=router,
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
        return "router" not in self._modules

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        """(#batch, time, D) -> (#batch, time, D)."""
        tokens = xs.reshape(-1, xs.shape[-1])
        valid = None if self.valid_frames is None else self.valid_frames.reshape(-1)
        decision = self.router(tokens, self.top_k, self.gate_normalization)
        self.last_routing = RoutingRecord(decision, valid)
        capacity = None
        if self.capacity_factor is not None:
            num_valid = tokens.shape[0] if valid is None else int(valid.sum())
            capacity = expert_capacity(
                self.capacity_factor, num_valid, self.top_k, self.num_experts
            )
        combined = dispatch_and_combine(
            tokens, decision.expert_index, decision.gate, self.experts, valid, capacity
        )
        return combined.view(xs.shape)

    def reset_routing(self) -> None:
        """Forget the last forward's routing and mask (call before each forward)."""
        self.valid_frames = None
        self.last_routing = None

    def auxiliary_losses(self) -> Dict[str, torch.Tensor]:
        """Unweighted load-balancing and z-loss of the last forward."""
        record = self._require_routing()
        decision, valid = record.decision, record.valid
        return {
            "load_balancing_loss": load_balancing_loss(
                decision.probs, decision.expert_index, valid
            ),
            "z_loss": router_z_loss(decision.logits, valid),
        }

    def weighted_auxiliary_loss(self, losses: Dict[str, torch.Tensor]) -> torch.Tensor:
        """``load_balancing_weight * lb + z_loss_weight * z`` of ``auxiliary_losses()``."""
        return (
            self.load_balancing_weight * losses["load_balancing_loss"]
            + self.z_loss_weight * losses["z_loss"]
        )

    def routing_statistics(self) -> Dict[str, torch.Tensor]:
        """Expert load fractions (E,) and mean router entropy of the last forward."""
        record = self._require_routing()
        decision, valid = record.decision, record.valid
        with torch.no_grad():
            return {
                "load": expert_load(decision.expert_index, self.num_experts, valid),
                "entropy": router_entropy(decision.probs, valid),
            }

    def _require_routing(self) -> RoutingRecord:
        if self.last_routing is None:
            raise RuntimeError(f"{self.layer_name}: no forward since the last reset")
        return self.last_routing
