"""Straightforward MoE computations that the fast dispatch is checked and timed against.

``where_loop_moe`` is the common per-expert loop (WeNet's ``MoEFFNLayer``: one
``torch.where`` gather per expert, separate expert modules); ``all_experts_moe``
runs every expert on every token and weights the outputs by the gates (E times the
compute, no data-dependent indexing). Both take the same routing as
``dispatch_and_combine`` and give the same outputs and gradients. Not part of the package:
the tests check the dispatch against them (test_dispatch_paths.py), the benchmarks time
them (benchmarks/dispatch.py) and export with them (benchmarks/onnx_runtime.py).
"""

from typing import Sequence, Tuple

import torch

ExpertWeights = Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]


def where_loop_moe(
    tokens: torch.Tensor,
    expert_index: torch.Tensor,
    gate: torch.Tensor,
    experts: Sequence[ExpertWeights],
    activation: torch.nn.Module,
) -> torch.Tensor:
    """WeNet-style MoE: for each expert, gather its tokens with ``torch.where``.

    Args:
        tokens: (#tokens, D).
        expert_index: (#tokens, top_k) chosen experts.
        gate: (#tokens, top_k) their weights.
        experts: E tuples ``(w_1 (D, H), b_1 (H,), w_2 (H, D), b_2 (D,))``.
        activation: Hidden activation.

    Returns:
        (#tokens, D).
    """
    output = torch.zeros_like(tokens)
    gate = gate.to(tokens.dtype)
    for expert_id, (w_1, b_1, w_2, b_2) in enumerate(experts):
        token_ids, choice = torch.where(expert_index == expert_id)
        if token_ids.numel() == 0:
            continue
        hidden = activation(torch.addmm(b_1, tokens[token_ids], w_1))
        output[token_ids] += gate[token_ids, choice, None] * torch.addmm(b_2, hidden, w_2)
    return output


def all_experts_moe(
    tokens: torch.Tensor,
    expert_index: torch.Tensor,
    gate: torch.Tensor,
    w_1: torch.Tensor,
    b_1: torch.Tensor,
    w_2: torch.Tensor,
    b_2: torch.Tensor,
    activation: torch.nn.Module,
) -> torch.Tensor:
    """Every expert on every token, outputs weighted by a dense (#tokens, E) gate.

    Args:
        tokens: (#tokens, D).
        expert_index: (#tokens, top_k) chosen experts.
        gate: (#tokens, top_k) their weights.
        w_1, b_1, w_2, b_2: Stacked weights (E, D, H), (E, H), (E, H, D), (E, D).
        activation: Hidden activation.

    Returns:
        (#tokens, D).
    """
    dense_gate = tokens.new_zeros(tokens.shape[0], w_1.shape[0])
    dense_gate = dense_gate.scatter(1, expert_index, gate.to(tokens.dtype))
    hidden = activation(torch.baddbmm(b_1.unsqueeze(1), tokens.expand(w_1.shape[0], -1, -1), w_1))
    outputs = torch.baddbmm(b_2.unsqueeze(1), hidden, w_2)  # (E, #tokens, D)
    return torch.einsum("te,etd->td", dense_gate, outputs)
