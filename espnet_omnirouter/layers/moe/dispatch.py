"""Sort-based dispatch of tokens to experts and combination of their outputs."""

import math

import torch

from espnet_omnirouter.layers.moe.experts import StackedExperts


def expert_capacity(capacity_factor: float, num_tokens: int, top_k: int, num_experts: int) -> int:
    """Maximum assignments per expert: ``ceil(factor * tokens * top_k / E)``."""
    return math.ceil(capacity_factor * num_tokens * top_k / num_experts)


def assignment_experts(
    expert_index: torch.Tensor, valid: torch.Tensor | None, num_experts: int
) -> torch.Tensor:
    """The expert of each assignment ``p = choice * #tokens + token`` (choice-major),
    (#tokens * top_k,); assignments of invalid tokens (``valid`` False) go to expert
    ``num_experts``."""
    flat_expert = expert_index.t().reshape(-1)
    if valid is None:
        return flat_expert
    flat_valid = valid.expand(expert_index.shape[1], -1).reshape(-1)
    return torch.where(flat_valid, flat_expert, num_experts)


def dispatch_and_combine(
    tokens: torch.Tensor,
    expert_index: torch.Tensor,
    gate: torch.Tensor,
    experts: StackedExperts,
    valid: torch.Tensor | None = None,
    capacity: int | None = None,
) -> torch.Tensor:
    """Send each token to its chosen experts and sum the gated outputs.

    Assignments are sorted by expert (a stable sort of the choice-major order, so
    first choices, then earlier tokens, win when an expert is full), gathered once,
    run as one contiguous group per expert, and scattered back once. Nothing here
    copies data to the host (the ``loop`` expert backend does, for group sizes).

    Args:
        tokens: (#tokens, D).
        expert_index: Chosen experts, (#tokens, top_k).
        gate: Weights of the chosen experts, (#tokens, top_k).
        experts: The E experts.
        valid: Optional (#tokens,) bool; False tokens (padding) are not computed and
            get a zero output.
        capacity: Optional maximum number of assignments per expert; assignments
            over it are dropped (their contribution is zero, the residual remains).

    Returns:
        (#tokens, D) combined expert outputs.
    """
    num_tokens, top_k = expert_index.shape
    num_experts = experts.num_experts
    # Dropped assignments go to a virtual expert E, which sorts last and is never computed.
    flat_expert = assignment_experts(expert_index, valid, num_experts)
    order = torch.argsort(flat_expert, stable=True)
    # Counted by index_add_: CUDA's torch.bincount copies the input's maximum to the host.
    ones = torch.ones_like(flat_expert)
    tokens_per_expert = flat_expert.new_zeros(num_experts + 1).index_add_(0, flat_expert, ones)
    tokens_per_expert = tokens_per_expert[:num_experts]
    if capacity is not None:
        sorted_expert = flat_expert[order]
        group_start = tokens_per_expert.cumsum(0) - tokens_per_expert
        rank_in_expert = (
            torch.arange(order.numel(), device=order.device)
            - group_start[sorted_expert.clamp(max=num_experts - 1)]
        )
        over_capacity = rank_in_expert >= capacity
        flat_expert = flat_expert.scatter(
            0, order, sorted_expert.masked_fill(over_capacity, num_experts)
        )
        order = torch.argsort(flat_expert, stable=True)
        tokens_per_expert = tokens_per_expert.clamp(max=capacity)

    token_index = order if top_k == 1 else order % num_tokens
    expert_out = experts(tokens[token_index], tokens_per_expert)
    sorted_gate = gate.t().reshape(-1)[order]
    expert_out = expert_out * sorted_gate.unsqueeze(-1).to(expert_out.dtype)
    if top_k == 1:  # a permutation: every row is written once (zeros when dropped)
        return torch.empty_like(expert_out).index_copy_(0, token_index, expert_out)
    combined = expert_out.new_zeros(num_tokens, tokens.shape[-1])
    return combined.index_add_(0, token_index, expert_out)
