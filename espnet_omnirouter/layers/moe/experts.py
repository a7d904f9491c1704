"""Position-wise feed-forward experts with stacked weights and grouped execution."""

import math

import torch

from espnet_omnirouter.layers.moe.grouped_linear import (
    EXPERT_BACKENDS,
    grouped_mm_linear,
    loop_grouped_linear,
)


class StackedExperts(torch.nn.Module):
    """E position-wise FFNs ``w_2(dropout(act(w_1 x)))`` with stacked weights.

    Parameters: ``w_1`` (E, D, H), ``b_1`` (E, H), ``w_2`` (E, H, D), ``b_2`` (E, D),
    each expert initialised like ``torch.nn.Linear``.

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
        if self.backend == "loop":
            linear, group_sizes = loop_grouped_linear, tokens_per_expert.tolist()
        else:
            linear, group_sizes = grouped_mm_linear, tokens_per_expert
        hidden = linear(tokens_by_expert, self.w_1, self.b_1, group_sizes)
        hidden = self.dropout(self.activation(hidden))
        return linear(hidden, self.w_2, self.b_2, group_sizes)
