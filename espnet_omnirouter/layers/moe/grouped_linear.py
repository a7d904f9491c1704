"""Grouped linear map: each contiguous group of rows gets its own expert's weights.

``y[rows of group e] = x[rows of group e] @ weight[e] + bias[e]``, the expert
computation of a MoE layer once tokens are sorted by expert. Rows after the last
group (dropped or padding assignments) get zeros.

Two backends compute it:
    ``loop``: one ``addmm`` per non-empty group into a preallocated output, with a
        hand-written backward that writes every weight gradient straight into one
        (E, In, Out) buffer. Fastest on CPU; needs the group sizes on the host.
    ``grouped_mm``: ``torch.nn.functional.grouped_mm``, one kernel for all groups
        with the offsets kept on the device (no host synchronisation on CUDA; on
        CPU PyTorch runs it as a loop).
"""

from typing import Sequence, Tuple

import torch

from espnet_omnirouter.layers.moe.autocast import autocast_disabled

EXPERT_BACKENDS = ("loop", "grouped_mm")


def _grouped_addmm(
    inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, group_sizes: Sequence[int]
) -> torch.Tensor:
    """The ``loop`` backend's computation, without autograd."""
    grouped = sum(group_sizes)
    output = inputs.new_empty(inputs.shape[0], weight.shape[-1])
    if grouped < inputs.shape[0]:
        output[grouped:].zero_()
    for rows, out_rows, w, b in zip(
        inputs[:grouped].split(group_sizes), output[:grouped].split(group_sizes), weight, bias
    ):
        if rows.shape[0] > 0:
            torch.addmm(b, rows, w, out=out_rows)
    return output


class _LoopGroupedLinear(torch.autograd.Function):
    """Autograd function of the ``loop`` backend (all tensors of one dtype)."""

    @staticmethod
    def forward(
        ctx,
        inputs: torch.Tensor,
        weight: torch.Tensor,
        bias: torch.Tensor,
        group_sizes: Tuple[int, ...],
    ) -> torch.Tensor:
        ctx.save_for_backward(inputs, weight)
        ctx.group_sizes = group_sizes
        return _grouped_addmm(inputs, weight, bias, group_sizes)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        inputs, weight = ctx.saved_tensors
        sizes = ctx.group_sizes
        grouped = sum(sizes)
        grad_groups = grad_output[:grouped].contiguous().split(sizes)
        grad_inputs = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_inputs = torch.empty_like(inputs)
            grad_inputs[grouped:].zero_()
            for grad, out_rows, w in zip(grad_groups, grad_inputs[:grouped].split(sizes), weight):
                if grad.shape[0] > 0:
                    torch.mm(grad, w.t(), out=out_rows)
        if ctx.needs_input_grad[1]:
            grad_weight = torch.empty_like(weight)
            for rows, grad, out_w in zip(inputs[:grouped].split(sizes), grad_groups, grad_weight):
                torch.mm(rows.t(), grad, out=out_w)  # zeros for an empty group
        if ctx.needs_input_grad[2]:
            grad_bias = torch.stack([grad.sum(dim=0) for grad in grad_groups])
        return grad_inputs, grad_weight, grad_bias, None


def _compute_dtype(inputs: torch.Tensor) -> torch.dtype:
    device_type = inputs.device.type
    if torch.is_autocast_enabled(device_type):
        return torch.get_autocast_dtype(device_type)
    return inputs.dtype


def _needs_autograd(*tensors: torch.Tensor) -> bool:
    return torch.is_grad_enabled() and any(t.requires_grad for t in tensors)


def loop_grouped_linear(
    inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, group_sizes: Sequence[int]
) -> torch.Tensor:
    """``loop`` backend of the grouped linear map.

    Under autocast the matmuls run in the autocast dtype, like ``torch.nn.Linear``.

    Args:
        inputs: Rows sorted by group, (N, In).
        weight: (E, In, Out).
        bias: (E, Out).
        group_sizes: E host integers, rows per group, summing to at most N.

    Returns:
        (N, Out); rows past ``sum(group_sizes)`` are zero.
    """
    dtype = _compute_dtype(inputs)
    with autocast_disabled(inputs.device.type):
        inputs, weight, bias = inputs.to(dtype), weight.to(dtype), bias.to(dtype)
        if not _needs_autograd(inputs, weight, bias):  # decoding: no autograd.Function
            return _grouped_addmm(inputs, weight, bias, group_sizes)
        return _LoopGroupedLinear.apply(inputs, weight, bias, tuple(group_sizes))


def grouped_mm_linear(
    inputs: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, group_sizes: torch.Tensor
) -> torch.Tensor:
    """``grouped_mm`` backend: same as ``loop_grouped_linear`` with ``group_sizes`` an
    (E,) int64 tensor on the inputs' device, never copied to the host."""
    dtype = _compute_dtype(inputs)
    with autocast_disabled(inputs.device.type):
        inputs, weight, bias = inputs.to(dtype), weight.to(dtype), bias.to(dtype)
        num_rows = inputs.shape[0]
        num_experts = weight.shape[0]
        offsets = group_sizes.cumsum(0)
        # Rows past the last group form a virtual group E. grouped_mm leaves their
        # outputs and input gradients uninitialised: both are masked to zero.
        rows_per_group = torch.cat([group_sizes, num_rows - offsets[-1:]])
        group_of_row = torch.arange(num_experts + 1, device=inputs.device).repeat_interleave(
            rows_per_group, output_size=num_rows
        )
        tail = (group_of_row == num_experts).unsqueeze(-1)
        output = torch.nn.functional.grouped_mm(
            inputs.masked_fill(tail, 0.0), weight, offs=offsets.to(torch.int32)
        )
        output = output + bias[group_of_row.clamp(max=num_experts - 1)]
        return output.masked_fill(tail, 0.0)
