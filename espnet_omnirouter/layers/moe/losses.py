"""Auxiliary losses and statistics of MoE routing, over non-padding tokens only.

Each function takes the router outputs of all tokens and an optional (#tokens,) bool
mask of the valid (non-padding) ones, and averages with the mask as weights instead
of indexing by it: boolean indexing copies the number of valid tokens to the host, a
GPU synchronisation in every MoE layer of every training step.
"""

import torch


def _mean_over_tokens(values: torch.Tensor, valid: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` (#tokens, ...) over its valid tokens; zeros when none."""
    if valid is None:
        return values.sum(dim=0) / max(values.shape[0], 1)
    weights = valid.to(values.dtype).view(-1, *[1] * (values.dim() - 1))
    return (values * weights).sum(dim=0) / weights.sum().clamp(min=1)


def expert_load(
    expert_index: torch.Tensor, num_experts: int, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Fraction of routing assignments each expert receives.

    Args:
        expert_index: Chosen experts, (#tokens, top_k).
        num_experts: E.
        valid: Optional (#tokens,) bool mask of the tokens to count.

    Returns:
        (E,) float32 fractions summing to one (all zeros when there are no tokens).
    """
    if valid is None:
        weights = torch.ones(expert_index.numel(), device=expert_index.device)
    else:
        weights = valid.float().unsqueeze(-1).expand(expert_index.shape).reshape(-1)
    counts = weights.new_zeros(num_experts).index_add_(0, expert_index.reshape(-1), weights)
    return counts / counts.sum().clamp(min=1)


def load_balancing_loss(
    probs: torch.Tensor, expert_index: torch.Tensor, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Switch Transformer load-balancing loss ``E * sum_i f_i * P_i``.

    ``f_i`` is the fraction of assignments sent to expert i (not differentiable) and
    ``P_i`` the mean router probability of expert i. The loss is 1.0 under uniform
    routing and grows up to E when every token goes to one confident expert.

    Args:
        probs: Router probabilities, (#tokens, E).
        expert_index: Chosen experts of the same tokens, (#tokens, top_k).
        valid: Optional (#tokens,) bool mask of the tokens that count.
    """
    num_experts = probs.shape[-1]
    fraction = expert_load(expert_index, num_experts, valid)
    return num_experts * torch.sum(fraction * _mean_over_tokens(probs, valid))


def router_z_loss(logits: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """ST-MoE router z-loss ``mean(logsumexp(logits)^2)`` on raw logits (#tokens, E),
    over the ``valid`` tokens (all when None)."""
    return _mean_over_tokens(torch.logsumexp(logits, dim=-1).pow(2), valid)


def router_entropy(probs: torch.Tensor, valid: torch.Tensor | None = None) -> torch.Tensor:
    """Mean per-token entropy (nats) of router probabilities (#tokens, E), over the
    ``valid`` tokens (all when None)."""
    return _mean_over_tokens(-(probs * probs.clamp_min(1e-9).log()).sum(dim=-1), valid)
