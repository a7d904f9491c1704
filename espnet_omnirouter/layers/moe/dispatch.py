"""Sort-based dispatch of tokens to experts and combination of their outputs.

One computation for training, decoding and ONNX export: every step is a tensor operation
whose sizes stay tensors (no group size, token count or capacity reaches the host, except
in the ``loop`` expert backend, which reads the group sizes), so tracing keeps it whole.
"""

import torch

from espnet_omnirouter.layers.moe.experts import StackedExperts


def assignment_experts(
    expert_index: torch.Tensor, valid: torch.Tensor | None, num_experts: int
) -> torch.Tensor:
    """The expert of each assignment ``p = choice * #tokens + token`` (choice-major),
    (#tokens * top_k,); assignments of invalid tokens (``valid`` False) go to expert
    ``num_experts``, which is never computed."""
    flat_expert = expert_index.t().reshape(-1)
    if valid is None:
        return flat_expert
    flat_valid = valid.expand(expert_index.shape[1], -1).reshape(-1)
    return torch.where(flat_valid, flat_expert, num_experts)


def drop_over_capacity(
    flat_expert: torch.Tensor, capacity_factor: float, num_valid: torch.Tensor, top_k: int,
    num_experts: int,
) -> torch.Tensor:  # fmt: skip
    """``flat_expert`` with the assignments past each expert's capacity sent to expert
    ``num_experts`` (dropped: their output is zero, the residual remains).

    Capacity is ``ceil(capacity_factor * valid tokens * top_k / E)`` assignments; an expert
    fills in choice-major order (every token's first choice, then every second choice,
    earlier tokens first), as Switch Transformer does. The rank of an assignment in its
    expert's queue is a cumulative sum over a one-hot, a tensor computation.
    """
    one_hot = torch.nn.functional.one_hot(flat_expert, num_experts + 1)
    rank = ((one_hot.cumsum(0) - one_hot) * one_hot).sum(-1)
    capacity = torch.ceil(num_valid.double() * capacity_factor * top_k / num_experts).long()
    return torch.where(rank < capacity, flat_expert, num_experts)


def sort_by_expert(
    flat_expert: torch.Tensor, num_experts: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The assignments sorted by expert, earlier assignments first within an expert.

    Returns ``order`` (N,): the assignments in expert order; ``counts`` (E,) int64: the
    group sizes of the E real experts (dropped assignments, expert E, sort last); and
    ``position`` (N,): where each assignment lies in that order (the inverse permutation).
    The sort key is unique per assignment (``expert * N + assignment``), so any sort is
    the stable one; counts come from a one-hot sum (CUDA's ``bincount`` would copy the
    input's maximum to the host).
    """
    num_assignments = flat_expert.shape[0]
    index = torch.arange(num_assignments, device=flat_expert.device)
    order = torch.argsort(flat_expert * num_assignments + index)
    position = torch.empty_like(order).scatter_(0, order, index)
    counts = torch.nn.functional.one_hot(flat_expert, num_experts + 1).sum(0)[:num_experts]
    return order, counts, position


def dispatch_and_combine(
    tokens: torch.Tensor,
    expert_index: torch.Tensor,
    gate: torch.Tensor,
    experts: StackedExperts,
    valid: torch.Tensor | None = None,
    capacity_factor: float | None = None,
) -> torch.Tensor:
    """Send each token to its chosen experts and sum the gated outputs.

    Assignments are sorted by expert (``sort_by_expert``), gathered once, run as one
    contiguous group per expert, gathered back to assignment order and summed over the
    choices with their gates.

    Args:
        tokens: (#tokens, D).
        expert_index: Chosen experts, (#tokens, top_k).
        gate: Weights of the chosen experts, (#tokens, top_k).
        experts: The E experts.
        valid: Optional (#tokens,) bool; False tokens (padding) are not computed and
            get a zero output.
        capacity_factor: Optional expert capacity (``drop_over_capacity``); None drops
            nothing.

    Returns:
        (#tokens, D) combined expert outputs.
    """
    num_tokens, top_k = expert_index.shape
    num_experts = experts.num_experts
    flat_expert = assignment_experts(expert_index, valid, num_experts)
    if capacity_factor is not None:
        num_valid = (
            torch.full((), num_tokens, device=tokens.device) if valid is None else valid.sum()
        )
        flat_expert = drop_over_capacity(
            flat_expert, capacity_factor, num_valid, top_k, num_experts
        )
    order, counts, position = sort_by_expert(flat_expert, num_experts)
    expert_out = experts(tokens[order % num_tokens], counts)  # zero past the E groups
    by_assignment = expert_out[position] * gate.t().reshape(-1, 1).to(expert_out.dtype)
    return by_assignment.view(top_k, num_tokens, -1).sum(0)
