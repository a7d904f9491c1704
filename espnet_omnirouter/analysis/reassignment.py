"""The random-reassignment ablation: send a fraction of routing decisions elsewhere.

The Omni-router paper reports that reassigning experts at random at test time hurts an
Omni-router model much more than a Switch model: its layers rely on coordinated choices.
"""

import contextlib
from typing import Iterator

import torch

from espnet_omnirouter.layers.moe.router import Router, RoutingDecision


def reassign(
    decision: RoutingDecision, fraction: float, generator: torch.Generator
) -> RoutingDecision:
    """Send each (token, choice) to another expert with probability ``fraction``.

    The new expert is drawn uniformly among those the token was not routed to (so at
    ``fraction=1`` every decision changes, and a token's top-k experts stay distinct);
    the gate weights are kept, so only *which* expert runs changes.
    """
    index = decision.expert_index
    num_tokens, top_k = index.shape
    num_experts = decision.probs.shape[-1]
    if fraction <= 0 or num_tokens == 0:
        return decision
    if num_experts < 2 * top_k:
        raise ValueError(f"reassignment needs num_experts >= 2 * top_k, got {num_experts}, {top_k}")

    def uniform(*shape: int) -> torch.Tensor:
        return torch.rand(shape, generator=generator, device=generator.device).to(index.device)

    routed = torch.zeros(num_tokens, num_experts, dtype=torch.bool, device=index.device)
    routed.scatter_(1, index, True)
    # Experts each token is not routed to, ascending (False sorts before True) ...
    unrouted = routed.int().argsort(dim=1, stable=True)[:, : num_experts - top_k]
    # ... of which top_k distinct ones, in random order.
    shuffled = unrouted.gather(1, uniform(num_tokens, num_experts - top_k).argsort(dim=1))
    moved = uniform(num_tokens, top_k) < fraction
    new_index = torch.where(moved, shuffled[:, :top_k], index)
    return RoutingDecision(decision.logits, decision.probs, new_index, decision.gate)


@contextlib.contextmanager
def random_reassignment(
    model: torch.nn.Module, fraction: float, generator: torch.Generator
) -> Iterator[None]:
    """Within the block, every ``Router`` of ``model`` (a shared one included) has
    ``fraction`` of its decisions reassigned by :func:`reassign`."""

    def hook(router: Router, args, decision: RoutingDecision) -> RoutingDecision:
        return reassign(decision, fraction, generator)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, Router)]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
