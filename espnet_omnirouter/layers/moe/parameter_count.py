"""Total and per-frame active parameter counts of models built from MoE layers."""

from typing import NamedTuple

import torch

from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward


class ParameterCount(NamedTuple):
    """``total``: every parameter; ``active``: those one frame uses (top-k experts)."""

    total: int
    active: int


def count_parameters(model: torch.nn.Module) -> ParameterCount:
    """Count parameters once each (a shared router counts once).

    A MoE layer with E experts and top-k routing uses k/E of its expert parameters
    for any one frame; everything else is active for every frame.
    """
    total = sum(p.numel() for p in model.parameters())
    inactive = 0
    for layer in model.modules():
        if isinstance(layer, MoEFeedForward):
            expert_params = sum(p.numel() for p in layer.experts.parameters())
            inactive += expert_params * (layer.num_experts - layer.top_k) // layer.num_experts
    return ParameterCount(total, total - inactive)


def format_count(count: int) -> str:
    """``3412345 -> '3.41M'``."""
    return f"{count / 1e6:.2f}M"
