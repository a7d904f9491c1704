"""Mixture-of-Experts building blocks: router, experts, dispatch, losses."""

from espnet_omnirouter.layers.moe.config import MoEConfig, MoEConfigError
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.router import Router

__all__ = ["MoEConfig", "MoEConfigError", "MoEFeedForward", "Router"]
