"""Traceable sparse MoE computation for ONNX export.

The training dispatch (``layers.moe.dispatch``) hands expert group sizes to the host
(``loop`` backend), which tracing would freeze as constants of the example input. Here
each expert instead selects its frames with ``nonzero`` (a data-dependent ONNX
``NonZero``), gathers them, runs its own FFN and scatter-adds the gated result: the
loop over E is unrolled at trace time, but every frame is computed only by its top-k
experts, so the exported cost per frame follows k, not E (WeNet's per-expert ``where``
loop, ``layers.moe.reference_dispatch.where_loop_moe``, made traceable).
"""

import contextlib
from typing import Iterator

import torch

from espnet_omnirouter.layers.moe.dispatch import assignment_experts
from espnet_omnirouter.layers.moe.experts import StackedExperts
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward


def sparse_dispatch_and_combine(
    tokens: torch.Tensor,
    expert_index: torch.Tensor,
    gate: torch.Tensor,
    experts: StackedExperts,
    valid: torch.Tensor | None = None,
    capacity_factor: float | None = None,
) -> torch.Tensor:
    """``dispatch_and_combine`` (same result) as a traceable per-expert loop.

    Assignments of an expert are taken in the eager dispatch's order (first choices
    first, then earlier tokens), so a ``capacity_factor`` drops the same ones.

    Args:
        tokens: (#tokens, D).
        expert_index: Chosen experts, (#tokens, top_k).
        gate: Their weights, (#tokens, top_k).
        experts: The E stacked experts (``w_1`` (E, D, H), ...); dropout is not applied
            (export is for inference).
        valid: Optional (#tokens,) bool; invalid tokens (padding) get a zero output.
        capacity_factor: None, or the factor of ``ceil(factor * valid tokens * top_k / E)``
            assignments an expert takes at most.

    Returns:
        (#tokens, D) combined expert outputs.
    """
    num_tokens, top_k = expert_index.shape
    num_experts = experts.num_experts
    # Choice-major assignments, as the eager dispatch sorts them; padding to expert E.
    flat_expert = assignment_experts(expert_index, valid, num_experts)
    flat_gate = gate.t().reshape(-1).to(tokens.dtype)
    capacity = None
    if capacity_factor is not None:
        # The count stays a graph value (a Python int would be frozen by tracing).
        num_valid = valid.sum() if valid is not None else torch.ones_like(expert_index[:, 0]).sum()
        # ((factor * n) * k) / E in float64, as the eager ``expert_capacity`` computes it.
        capacity = torch.ceil(num_valid.double() * capacity_factor * top_k / num_experts).long()
    combined = torch.zeros_like(tokens)
    for expert in range(num_experts):
        assignments = torch.nonzero(flat_expert == expert).squeeze(1)
        if capacity is not None:
            assignments = assignments[:capacity]
        token_index = assignments % num_tokens
        hidden = experts.activation(tokens[token_index] @ experts.w_1[expert] + experts.b_1[expert])
        output = hidden @ experts.w_2[expert] + experts.b_2[expert]
        combined = combined.index_add(0, token_index, output * flat_gate[assignments, None])
    return combined


def sparse_moe_forward(layer: MoEFeedForward, xs: torch.Tensor) -> torch.Tensor:
    """``MoEFeedForward.forward`` for export: (#batch, time, D) -> (#batch, time, D),
    same router, gates and padding mask (``valid_frames``), sparse expert compute. No
    routing record is kept (no losses or statistics in inference)."""
    tokens = xs.reshape(-1, xs.shape[-1])
    valid = None if layer.valid_frames is None else layer.valid_frames.reshape(-1)
    decision = layer.router(tokens, layer.top_k, layer.gate_normalization)
    combined = sparse_dispatch_and_combine(
        tokens, decision.expert_index, decision.gate, layer.experts, valid, layer.capacity_factor
    )
    return combined.view(xs.shape)


@contextlib.contextmanager
def sparse_moe_for_export(model: torch.nn.Module) -> Iterator[int]:
    """Within the block, every ``MoEFeedForward`` of ``model`` runs ``sparse_moe_forward``.

    Only the instances' ``forward`` attribute changes (no module, parameter or buffer is
    added, removed or renamed: the state dict keys stay the same); it is restored on
    exit. Yields the number of MoE layers rewritten.
    """
    layers = [module for module in model.modules() if isinstance(module, MoEFeedForward)]
    for layer in layers:
        layer.forward = sparse_moe_forward.__get__(layer)
    try:
        yield len(layers)
    finally:
        for layer in layers:
            del layer.forward
