"""Auxiliary losses and statistics of MoE routing, over non-padding tokens only."""

import torch


def expert_load(expert_index: torch.Tensor, num_experts: int) -> torch.Tensor:
    """Fraction of routing assignments each expert receives.

    Args:
        expert_index: Chosen experts of the valid tokens, (#tokens, top_k).
        num_experts: E.

    Returns:
        (E,) fractions summing to one (all zeros when there are no tokens).
    """
    counts = torch.bincount(expert_index.reshape(-1), minlength=num_experts)
    return counts.float() / max(expert_index.numel(), 1)


def load_balancing_loss(probs: torch.Tensor, expert_index: torch.Tensor) -> torch.Tensor:
    """Switch Transformer load-balancing loss ``E * sum_i f_i * P_i``.

    ``f_i`` is the fraction of assignments sent to expert i (not differentiable) and
    ``P_i`` the mean router probability of expert i. The loss is 1.0 under uniform
    routing and grows up to E when every token goes to one confident expert.

    Args:
        probs: Router probabilities of the valid tokens, (#tokens, E).
        expert_index: Chosen experts of the same tokens, (#tokens, top_k).
    """
    if probs.shape[0] == 0:
        return probs.sum()
    num_experts = probs.shape[-1]
    fraction = expert_load(expert_index, num_experts)
    return num_experts * torch.sum(fraction * probs.mean(dim=0))


def router_z_loss(logits: torch.Tensor) -> torch.Tensor:
    """ST-MoE router z-loss ``mean(logsumexp(logits)^2)`` on raw logits (#tokens, E)."""
    if logits.shape[0] == 0:
        return logits.sum()
    return torch.logsumexp(logits, dim=-1).pow(2).mean()


def router_entropy(probs: torch.Tensor) -> torch.Tensor:
    """Mean per-token entropy (nats) of router probabilities (#tokens, E)."""
    if probs.shape[0] == 0:
        return probs.sum()
    return -(probs * probs.clamp_min(1e-9).log()).sum(dim=-1).mean()
