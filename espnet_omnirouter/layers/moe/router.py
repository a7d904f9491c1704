"""Token-to-expert router of a Mixture-of-Experts layer."""

from dataclasses import dataclass

import torch

from espnet_omnirouter.layers.moe.autocast import autocast_disabled

GATE_NORMALIZATIONS = ("full_softmax", "topk_softmax")


@dataclass
class RoutingDecision:
    """The experts each token goes to, and with which weights.

    Attributes:
        logits: Router logits, float32, (#tokens, num_experts).
        probs: Softmax of ``logits`` over all experts, (#tokens, num_experts).
        expert_index: Chosen experts, best first, (#tokens, top_k).
        gate: Weight of each chosen expert's output, (#tokens, top_k).
    """

    logits: torch.Tensor
    probs: torch.Tensor
    expert_index: torch.Tensor
    gate: torch.Tensor


class Router(torch.nn.Module):
    """Linear router ``D -> E`` with top-k selection.

    Logits and softmax are computed in float32 whatever the autocast dtype (half
    precision routers are unstable). During training the input can be jittered by
    multiplicative noise drawn from U(1 - jitter_noise, 1 + jitter_noise) (Switch
    Transformer). The same Router object may be shared by several MoE layers: that
    is the Omni-router (Gu et al., 2025).

    Gate conventions:
        ``full_softmax``: the gate of a chosen expert is its probability under the
            softmax over all experts (Switch Transformer, Omni-router).
        ``topk_softmax``: softmax over the top-k logits only, so gates sum to one
            (WeNet U2++ MoE, Mixtral).

    Args:
        input_size: Token dimension D.
        num_experts: Number of experts E.
        jitter_noise: Multiplicative input noise amplitude in training; 0 disables.
    """

    def __init__(self, input_size: int, num_experts: int, jitter_noise: float = 0.0):
        super().__init__()
        if num_experts < 1:
            raise ValueError(f"num_experts must be >= 1, got {num_experts}")
        if jitter_noise < 0:
            raise ValueError(f"jitter_noise must be >= 0, got {jitter_noise}")
        self.input_size = input_size
        self.num_experts = num_experts
        self.jitter_noise = jitter_noise
        self.linear = torch.nn.Linear(input_size, num_experts, bias=False)

    def forward(self, tokens: torch.Tensor, top_k: int, gate_normalization: str) -> RoutingDecision:
        """Route tokens (#tokens, D) to their top-k experts."""
        if gate_normalization not in GATE_NORMALIZATIONS:
            raise ValueError(
                f"gate_normalization must be one of {GATE_NORMALIZATIONS}, "
                f"got {gate_normalization!r}"
            )
        with autocast_disabled(tokens.device.type):
            tokens = tokens.float()
            if self.training and self.jitter_noise > 0:
                noise = torch.empty_like(tokens).uniform_(
                    1.0 - self.jitter_noise, 1.0 + self.jitter_noise
                )
                tokens = tokens * noise
            logits = torch.nn.functional.linear(tokens, self.linear.weight.float())
            probs = logits.softmax(dim=-1)
            top_logits, expert_index = logits.topk(top_k, dim=-1)
            if gate_normalization == "full_softmax":
                gate = probs.gather(-1, expert_index)
            else:
                gate = top_logits.softmax(dim=-1)
        return RoutingDecision(logits, probs, expert_index, gate)
