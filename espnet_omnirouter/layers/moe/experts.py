"""Position-wise feed-forward experts with stacked weights and grouped execution."""

import math
from typing import List

import torch


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
    """

    def __init__(
        self,
        num_experts: int,
        input_size: int,
        hidden_units: int,
        dropout_rate: float,
        activation: torch.nn.Module,
    ):
        super().__init__()
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

    def forward(self, tokens_by_expert: torch.Tensor, tokens_per_expert: List[int]) -> torch.Tensor:
        """Run each expert on its contiguous slice of tokens.

        Args:
            tokens_by_expert: Tokens sorted by expert, (#assignments, D).
            tokens_per_expert: Length of each expert's slice, E integers.

        Returns:
            Expert outputs in the same order, (#assignments, D).
        """
        outputs = []
        # unbind() keeps backward to one stacked gradient; indexing w_1[e] in the
        # loop would allocate a full-size gradient per expert.
        expert_weights = zip(
            self.w_1.unbind(0), self.b_1.unbind(0), self.w_2.unbind(0), self.b_2.unbind(0)
        )
        for tokens, (w_1, b_1, w_2, b_2) in zip(
            tokens_by_expert.split(tokens_per_expert), expert_weights
        ):
            if tokens.shape[0] == 0:
                continue
            hidden = self.dropout(self.activation(torch.addmm(b_1, tokens, w_1)))
            outputs.append(torch.addmm(b_2, hidden, w_2))
        if not outputs:
            return tokens_by_expert.new_zeros(tokens_by_expert.shape)
        return torch.cat(outputs)
