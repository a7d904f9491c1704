"""``moe_conf``: the YAML block that chooses dense, Switch or Omni-router FFNs."""

import dataclasses
import re
from dataclasses import dataclass
from typing import Any, List, Mapping, Set, Union

from espnet_omnirouter.layers.moe.grouped_linear import EXPERT_BACKENDS
from espnet_omnirouter.layers.moe.router import GATE_NORMALIZATIONS

MOE_TYPES = ("dense", "switch", "omni", "u2pp")
# U2++ MoE (Song et al., 2024; WeNet's MoEFFNLayer): every FFN an MoE layer with its own gate,
# top-2 of 8 experts, softmax over the top-2 logits, no auxiliary loss. Keys a config gives
# explicitly override these defaults.
U2PP_DEFAULTS = dict(
    num_experts=8,
    top_k=2,
    gate_normalization="topk_softmax",
    load_balancing_weight=0.0,
    z_loss_weight=0.0,
)
MOE_FFNS = ("macaron", "second", "both")


class MoEConfigError(ValueError):
    """A ``moe_conf`` value is invalid; the message names the key."""


@dataclass(frozen=True)
class MoEConfig:
    """Which feed-forward networks become MoE layers, and how they route.

    Attributes:
        type: ``dense`` (no MoE), ``switch`` (one router per MoE layer), ``omni``
            (one router shared by every MoE layer) or ``u2pp`` (one router per MoE
            layer with U2++ MoE's defaults: ``U2PP_DEFAULTS``).
        num_experts: Experts per MoE layer.
        top_k: Experts per token.
        gate_normalization: ``full_softmax`` (Switch) or ``topk_softmax`` (WeNet).
        ffn: Which FFN of a Conformer block becomes MoE: ``macaron`` (the first,
            half-step one), ``second`` or ``both``.
        blocks: ``all``, ``every_N`` (blocks N-1, 2N-1, ...) or a list of 0-based
            block indices.
        jitter_noise: Multiplicative router input noise in training.
        load_balancing_weight: Weight of the Switch load-balancing loss.
        z_loss_weight: Weight of the router z-loss.
        capacity_factor: If set, each expert takes at most
            ``ceil(capacity_factor * tokens * top_k / num_experts)`` assignments.
        expert_backend: How the experts' grouped matmuls run: ``loop`` (fastest on
            CPU) or ``grouped_mm`` (PyTorch's grouped GEMM, no host synchronisation).
    """

    type: str = "dense"
    num_experts: int = 8
    top_k: int = 1
    gate_normalization: str = "full_softmax"
    ffn: str = "both"
    blocks: Union[str, List[int]] = "all"
    jitter_noise: float = 0.0
    load_balancing_weight: float = 0.01
    z_loss_weight: float = 0.001
    capacity_factor: float | None = None
    expert_backend: str = "loop"

    @classmethod
    def from_dict(cls, conf: Mapping[str, Any] | None, where: str = "moe_conf") -> "MoEConfig":
        """Build from a YAML mapping; unknown keys raise an error naming them."""
        conf = dict(conf or {})
        if conf.get("type") == "u2pp":
            conf = {**U2PP_DEFAULTS, **conf}
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(conf) - known)
        if unknown:
            raise MoEConfigError(
                f"{where}: unknown key(s) {unknown}; allowed keys are {sorted(known)}"
            )
        return cls(**conf)

    def __post_init__(self) -> None:
        def fail(key: str, message: str) -> None:
            raise MoEConfigError(f"moe_conf.{key}={getattr(self, key)!r}: {message}")

        if self.type not in MOE_TYPES:
            fail("type", f"must be one of {MOE_TYPES}")
        if not isinstance(self.num_experts, int) or self.num_experts < 1:
            fail("num_experts", "must be an integer >= 1")
        if not isinstance(self.top_k, int) or not 1 <= self.top_k <= self.num_experts:
            fail("top_k", f"must be an integer in [1, num_experts={self.num_experts}]")
        if self.gate_normalization not in GATE_NORMALIZATIONS:
            fail("gate_normalization", f"must be one of {GATE_NORMALIZATIONS}")
        if self.is_moe and self.num_experts == 1:
            fail(
                "num_experts",
                "one expert is a dense FFN behind a router whose gate is always 1 (it never "
                "learns): use type: dense, or num_experts >= 2",
            )
        if self.is_moe and self.top_k == 1 and self.gate_normalization == "topk_softmax":
            fail(
                "top_k",
                "with gate_normalization: topk_softmax the softmax over one logit makes every "
                "gate exactly 1, so the router gets no gradient from the task loss: use "
                "gate_normalization: full_softmax (Switch) with top_k: 1, or top_k >= 2",
            )
        if self.ffn not in MOE_FFNS:
            fail("ffn", f"must be one of {MOE_FFNS}")
        if isinstance(self.blocks, str):
            if self.blocks != "all" and not re.fullmatch(r"every_[1-9][0-9]*", self.blocks):
                fail("blocks", "must be 'all', 'every_N' (N >= 1) or a list of block indices")
        elif not (
            isinstance(self.blocks, (list, tuple))
            and self.blocks
            and all(isinstance(b, int) and b >= 0 for b in self.blocks)
        ):
            fail("blocks", "must be 'all', 'every_N' (N >= 1) or a list of block indices")
        for key in ("jitter_noise", "load_balancing_weight", "z_loss_weight"):
            if not isinstance(getattr(self, key), (int, float)) or getattr(self, key) < 0:
                fail(key, "must be a number >= 0")
        if self.jitter_noise >= 1:
            fail("jitter_noise", "must be < 1 (noise is drawn from U(1-j, 1+j))")
        if self.capacity_factor is not None and (
            not isinstance(self.capacity_factor, (int, float)) or self.capacity_factor <= 0
        ):
            fail("capacity_factor", "must be null (no capacity limit) or a number > 0")
        if self.expert_backend not in EXPERT_BACKENDS:
            fail("expert_backend", f"must be one of {EXPERT_BACKENDS}")

    @property
    def is_moe(self) -> bool:
        return self.type != "dense"

    @property
    def shares_router(self) -> bool:
        """Whether one router serves every MoE layer (Omni-router)."""
        return self.type == "omni"

    def moe_blocks(self, num_blocks: int) -> Set[int]:
        """Indices of the blocks whose FFNs become MoE layers."""
        if self.blocks == "all":
            return set(range(num_blocks))
        if isinstance(self.blocks, str):
            interval = int(self.blocks.split("_")[1])
            return set(range(interval - 1, num_blocks, interval))
        out_of_range = [b for b in self.blocks if b >= num_blocks]
        if out_of_range:
            raise MoEConfigError(
                f"moe_conf.blocks={list(self.blocks)!r}: indices {out_of_range} are out of "
                f"range for num_blocks={num_blocks} (valid: 0..{num_blocks - 1})"
            )
        return set(self.blocks)
