"""Position-wise feed-forward experts with stacked weights and grouped execution."""

import contextlib
import inspect
import logging
import math
from typing import Iterator

import torch
from espnet2.torch_utils import initialize as espnet_initialize

from espnet_omnirouter.layers.moe.grouped_linear import (
    EXPERT_BACKENDS,
    grouped_mm_linear,
    loop_grouped_linear,
)
from espnet_omnirouter.utils.legacy_nets import PositionwiseFeedForward


def espnet_init_in_progress() -> str:
    """The ``init`` of the ESPnet ``initialize(model, init)`` call on the stack.

    ESPnet calls each module's ``espnet_initialization_fn()`` without arguments, after
    it has initialised every parameter with ``init``; a module whose parameters need
    another treatment reads the scheme from that call.
    """
    frame = inspect.currentframe()
    while frame is not None:
        if frame.f_code is espnet_initialize.initialize.__code__:
            return frame.f_locals["init"]
        frame = frame.f_back
    raise RuntimeError(
        "espnet_initialization_fn is ESPnet's hook: it runs inside "
        "espnet2.torch_utils.initialize.initialize(model, init), which names the scheme"
    )


@contextlib.contextmanager
def _quiet_info_logging() -> Iterator[None]:
    """ESPnet's ``initialize`` logs every bias it zeroes; re-initialising E experts
    through it would repeat those lines E times per MoE layer."""
    previous = logging.root.manager.disable
    logging.disable(max(previous, logging.INFO))
    try:
        yield
    finally:
        logging.disable(previous)


class StackedExperts(torch.nn.Module):
    """E position-wise FFNs ``w_2(dropout(act(w_1 x)))`` with stacked weights.

    Parameters: ``w_1`` (E, D, H), ``b_1`` (E, H), ``w_2`` (E, H, D), ``b_2`` (E, D),
    each expert initialised like ``torch.nn.Linear``, or, under ESPnet's ``init``
    option, as ESPnet initialises a dense FFN of its shape (``espnet_initialization_fn``).

    Args:
        num_experts: E.
        input_size: D.
        hidden_units: H.
        dropout_rate: Dropout on the hidden activations.
        activation: Activation module (ESPnet's Conformer uses Swish).
        backend: How the grouped matmuls run: ``loop`` (fastest on CPU) or
            ``grouped_mm`` (no host synchronisation; see ``grouped_linear``).
    """

    def __init__(
        self,
        num_experts: int,
        input_size: int,
        hidden_units: int,
        dropout_rate: float,
        activation: torch.nn.Module,
        backend: str = "loop",
    ):
        super().__init__()
        if backend not in EXPERT_BACKENDS:
            raise ValueError(f"expert backend must be one of {EXPERT_BACKENDS}, got {backend!r}")
        if backend == "grouped_mm" and (input_size % 8 or hidden_units % 8):
            raise ValueError(
                "expert backend 'grouped_mm' needs input_size and hidden_units to be "
                f"multiples of 8 (16-byte strides), got {input_size} and {hidden_units}"
            )
        self.backend = backend
        self.num_experts = num_experts
        self.w_1 = torch.nn.Parameter(torch.empty(num_experts, input_size, hidden_units))
        self.b_1 = torch.nn.Parameter(torch.empty(num_experts, hidden_units))
        self.w_2 = torch.nn.Parameter(torch.empty(num_experts, hidden_units, input_size))
        self.b_2 = torch.nn.Parameter(torch.empty(num_experts, input_size))
        self.dropout = torch.nn.Dropout(dropout_rate)
        self.activation = activation
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Initialise each expert as ``torch.nn.Linear`` does (U(±1/sqrt(fan_in)))."""
        for weight, bias in ((self.w_1, self.b_1), (self.w_2, self.b_2)):
            bound = 1.0 / math.sqrt(weight.shape[1])
            torch.nn.init.uniform_(weight, -bound, bound)
            torch.nn.init.uniform_(bias, -bound, bound)

    @torch.no_grad()
    def espnet_initialization_fn(self) -> None:
        """ESPnet's hook, run by ``initialize(model, init)`` after its own pass.

        That pass takes each stacked weight for one tensor whose fans include E (under
        ``xavier_*``, ``kaiming_*`` and ``chainer`` the experts come out several times
        smaller than a dense FFN's weights) and draws the stacked biases at random (it
        zeroes ``*.bias`` vectors only). Each expert is re-drawn here as ``initialize``
        draws ESPnet's dense ``PositionwiseFeedForward`` of the same shape: weights on
        the fans of one expert, biases zero.
        """
        init = espnet_init_in_progress()
        _, input_size, hidden_units = self.w_1.shape
        dense = PositionwiseFeedForward(input_size, hidden_units, 0.0)
        with _quiet_info_logging():
            for expert in range(self.num_experts):
                espnet_initialize.initialize(dense, init)
                # torch.nn.Linear keeps (out, in); the stacked experts keep (in, out).
                self.w_1[expert].copy_(dense.w_1.weight.t())
                self.b_1[expert].copy_(dense.w_1.bias)
                self.w_2[expert].copy_(dense.w_2.weight.t())
                self.b_2[expert].copy_(dense.w_2.bias)

    def forward(
        self, tokens_by_expert: torch.Tensor, tokens_per_expert: torch.Tensor
    ) -> torch.Tensor:
        """Run each expert on its contiguous group of tokens.

        Args:
            tokens_by_expert: Tokens sorted by expert, (N, D); rows after the E groups
                (dropped assignments) are not computed.
            tokens_per_expert: (E,) int64 group sizes, summing to at most N.

        Returns:
            Expert outputs in the same order, (N, D); zero after the E groups.
        """
        if torch.onnx.is_in_onnx_export():
            return self._forward_for_export(tokens_by_expert, tokens_per_expert)
        if self.backend == "loop":
            linear, group_sizes = loop_grouped_linear, tokens_per_expert.tolist()
        else:
            linear, group_sizes = grouped_mm_linear, tokens_per_expert
        hidden = linear(tokens_by_expert, self.w_1, self.b_1, group_sizes)
        hidden = self.dropout(self.activation(hidden))
        return linear(hidden, self.w_2, self.b_2, group_sizes)

    def _forward_for_export(self, rows: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """``forward`` as ONNX: one Split by the group sizes (a graph value), each group's
        MatMuls on its expert's own weights (``per_expert_parameters``: ONNX Runtime
        prepacks them, quantisation sees one weight per MatMul), one activation over all
        groups, zeros for the rows past the E groups."""
        weights = [
            [getattr(self, f"{name}_{expert}", None) for name in EXPERT_WEIGHTS]
            for expert in range(self.num_experts)
        ]
        if weights[0][0] is None:
            raise RuntimeError(
                "ONNX export of StackedExperts runs inside "
                "export.sparse_moe.per_expert_parameters(model), which gives each expert "
                "its own weights"
            )
        tail = (rows.shape[0] - counts.sum()).reshape(1)
        groups = SplitByCounts.apply(rows, torch.cat([counts, tail]), self.num_experts + 1)
        hidden = self.activation(
            torch.cat([group @ w_1 + b_1 for group, (w_1, b_1, _, _) in zip(groups, weights)])
        )
        hidden_groups = SplitByCounts.apply(hidden, counts, self.num_experts)
        outputs = [group @ w_2 + b_2 for group, (_, _, w_2, b_2) in zip(hidden_groups, weights)]
        return torch.cat([*outputs, groups[-1] * 0.0])


EXPERT_WEIGHTS = ("w_1", "b_1", "w_2", "b_2")


class SplitByCounts(torch.autograd.Function):
    """``apply(rows (N, X), counts (G,), G)``: the G consecutive groups of ``counts[g]``
    rows, as one ONNX Split whose sizes are a graph value (``Tensor.split`` with a list
    would freeze the traced example's sizes)."""

    @staticmethod
    def forward(ctx, rows: torch.Tensor, counts: torch.Tensor, num_groups: int):
        return tuple(rows.split(counts.tolist()))

    @staticmethod
    def symbolic(g, rows, counts, num_groups: int):
        return g.op("Split", rows, counts, axis_i=0, outputs=num_groups)
