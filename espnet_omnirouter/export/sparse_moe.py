"""Traceable sparse MoE computation for ONNX export: one sort of the assignments per layer.

The training dispatch (``layers.moe.dispatch``) hands expert group sizes to the host
(``loop`` backend), which tracing would freeze as constants of the example input. The
exported graph of a MoE layer is instead, per forward of T frames and top-k routing:

    router        traced ``Router.forward``: MatMul, TopK, Softmax (float32 logits);
    sort          ``SortByExpert`` (ONNX written by hand): one TopK sorts the k * T
                  assignments by expert, a second inverts that permutation, one Gather
                  collects the frames in expert order, a OneHot and a ReduceSum count them;
    experts       ``SplitByCounts`` (one Split, sizes a graph value) cuts them into the E
                  groups; each group's first MatMul on its expert's own weights (which
                  ONNX Runtime prepacks once), one activation over all groups, a second
                  Split and each group's second MatMul;
    combine       traced: Concat, one Gather back to assignment order, gates, sum over k.

About 20 operators per layer plus two MatMuls per expert, whatever T (a per-expert NonZero,
gather and scatter-add into a full-size buffer took ~24 operators per expert),
and every frame is computed by its top-k experts only. Assignments whose output eager
dispatch drops (padding frames, or over a ``capacity_factor``) are computed by their
expert and weighted by a zero gate, as a dense FFN computes padding frames.
"""

import contextlib
from typing import Iterator

import torch

from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward

EXPERT_WEIGHTS = ("w_1", "b_1", "w_2", "b_2")


def _constant(g, values) -> torch.Value:
    return g.op("Constant", value_t=torch.tensor(values, dtype=torch.int64))


class SortByExpert(torch.autograd.Function):
    """The frames of all assignments sorted by expert, with the group sizes.

    ``apply(tokens (T, D), expert_index (T, k), num_experts, k)`` returns the frames in
    expert order (T * k, D), the number of assignments of each expert (E,) and
    ``position`` (T * k,): where each assignment (token-major: ``token * k + choice``)
    lies in that order. ``forward`` computes it in PyTorch for tracing; ``symbolic``
    writes the ONNX graph (no data-dependent shape is frozen: sizes stay graph values).
    """

    @staticmethod
    def forward(
        ctx, tokens: torch.Tensor, expert_index: torch.Tensor, num_experts: int, top_k: int
    ):
        flat_expert = expert_index.reshape(-1)
        order = torch.argsort(flat_expert, stable=True)
        counts = torch.bincount(flat_expert, minlength=num_experts)
        return tokens[order // top_k], counts, torch.argsort(order)

    @staticmethod
    def symbolic(g, tokens, expert_index, num_experts: int, top_k: int):
        flat_expert = g.op("Reshape", expert_index, _constant(g, [-1]))
        count = g.op("Shape", flat_expert)
        _, order = g.op("TopK", flat_expert, count, axis_i=0, largest_i=0, sorted_i=1, outputs=2)
        # The inverse permutation: sorting the order gives each assignment's position.
        _, position = g.op("TopK", order, count, axis_i=0, largest_i=0, sorted_i=1, outputs=2)
        token = order if top_k == 1 else g.op("Div", order, _constant(g, top_k))
        one_hot = g.op(
            "OneHot", flat_expert, _constant(g, num_experts), _constant(g, [0, 1]), axis_i=-1
        )
        counts = g.op("ReduceSum", one_hot, _constant(g, [0]), keepdims_i=0)
        return g.op("Gather", tokens, token, axis_i=0), counts, position


class SplitByCounts(torch.autograd.Function):
    """``apply(rows (N, X), counts (E,), E)``: the E consecutive groups of ``counts[e]``
    rows, as one ONNX Split whose sizes are a graph value."""

    @staticmethod
    def forward(ctx, rows: torch.Tensor, counts: torch.Tensor, num_groups: int):
        return tuple(rows.split(counts.tolist()))

    @staticmethod
    def symbolic(g, rows, counts, num_groups: int):
        return g.op("Split", rows, counts, axis_i=0, outputs=num_groups)


def within_capacity(
    expert_index: torch.Tensor,
    valid: torch.Tensor | None,
    capacity_factor: float,
    num_experts: int,
) -> torch.Tensor:
    """(T, k) bool: the assignments eager dispatch keeps under ``capacity_factor``.

    Eager dispatch fills each expert in choice-major order (every token's first choice,
    then every second choice, earlier tokens first) up to ``ceil(factor * valid tokens *
    k / E)`` assignments; padding tokens take no place. The rank of an assignment in its
    expert's queue is computed with cumulative sums (tracing keeps them in the graph).
    """
    one_hot = expert_index.unsqueeze(-1) == torch.arange(num_experts)
    if valid is not None:
        one_hot = one_hot & valid[:, None, None]
    counts = one_hot.long()  # (T, k, E)
    earlier_tokens = counts.cumsum(0) - counts
    per_choice = counts.sum(0, keepdim=True)
    earlier_choices = per_choice.cumsum(1) - per_choice
    rank = ((earlier_tokens + earlier_choices) * counts).sum(-1)
    # The count stays a graph value (a Python int would be frozen by tracing).
    num_valid = torch.ones_like(expert_index[:, 0]).sum() if valid is None else valid.sum()
    # ((factor * n) * k) / E in float64, as the eager ``expert_capacity`` computes it.
    top_k = expert_index.shape[1]
    capacity = torch.ceil(num_valid.double() * capacity_factor * top_k / num_experts).long()
    return rank < capacity


def sparse_moe_forward(layer: MoEFeedForward, xs: torch.Tensor) -> torch.Tensor:
    """``MoEFeedForward.forward`` for export: (#batch, time, D) -> (#batch, time, D),
    same router, gates and padding mask (``valid_frames``), sparse expert compute. No
    routing record is kept (no losses or statistics in inference)."""
    experts = layer.experts
    size = experts.w_2.shape[-1]
    tokens = xs.reshape(-1, size)
    decision = layer.router(tokens, layer.top_k, layer.gate_normalization)
    gate = decision.gate.to(tokens.dtype)
    valid = None if layer.valid_frames is None else layer.valid_frames.reshape(-1)
    if valid is not None:
        gate = gate * valid.unsqueeze(-1)
    if layer.capacity_factor is not None:
        gate = gate * within_capacity(
            decision.expert_index, valid, layer.capacity_factor, layer.num_experts
        )
    sorted_tokens, counts, position = SortByExpert.apply(
        tokens, decision.expert_index, layer.num_experts, layer.top_k
    )
    weights = [
        [getattr(experts, f"{name}_{expert}") for name in EXPERT_WEIGHTS]
        for expert in range(layer.num_experts)
    ]
    groups = SplitByCounts.apply(sorted_tokens, counts, layer.num_experts)
    # One activation over all groups (the same function for every expert).
    hidden = experts.activation(
        torch.cat([group @ w_1 + b_1 for group, (w_1, b_1, _, _) in zip(groups, weights)])
    )
    groups = SplitByCounts.apply(hidden, counts, layer.num_experts)
    outputs = [group @ w_2 + b_2 for group, (_, _, w_2, b_2) in zip(groups, weights)]
    by_assignment = torch.cat(outputs)[position]  # (T * k, D), token-major
    if layer.top_k == 1:
        return (by_assignment * gate).view_as(xs)
    gated = by_assignment.view(-1, layer.top_k, size) * gate.unsqueeze(-1)
    return gated.sum(1).view_as(xs)


@contextlib.contextmanager
def sparse_moe_for_export(model: torch.nn.Module) -> Iterator[int]:
    """Within the block, every ``MoEFeedForward`` of ``model`` runs ``sparse_moe_forward``.

    Each layer's experts also get their weights as one parameter per expert
    (``experts.w_1_<e>``, ... : views of the stacked ``w_1`` ..., no copies), which the
    graph uses directly: ONNX Runtime prepacks each as a MatMul weight, and the export
    holds no second copy of the experts (constant-folding a slice of the stacked weight
    would make one; 3 GB for a 1B-parameter MoE). Everything is restored on exit: the
    state dict keys outside the block stay the same. Yields the number of MoE layers.
    """
    layers = [module for module in model.modules() if isinstance(module, MoEFeedForward)]
    for layer in layers:
        layer.forward = sparse_moe_forward.__get__(layer)
        experts = layer.experts
        for name in EXPERT_WEIGHTS:
            stacked = getattr(experts, name).detach()
            for expert in range(experts.num_experts):
                view = torch.nn.Parameter(stacked[expert], requires_grad=False)
                experts.register_parameter(f"{name}_{expert}", view)
    try:
        yield len(layers)
    finally:
        for layer in layers:
            del layer.forward
            for name in EXPERT_WEIGHTS:
                for expert in range(layer.experts.num_experts):
                    delattr(layer.experts, f"{name}_{expert}")
