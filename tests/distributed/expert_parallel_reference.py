"""A reference of expert parallelism for ``MoEFeedForward`` (docs/expert_parallelism.md):
each rank of a process group keeps a contiguous block of the E experts, and tokens travel
to their experts' ranks and back by two all-to-alls. Not part of the package: it shows that
the design plugs in by replacing ``MoEFeedForward.experts`` alone, and the tests check it
against the unsharded layer on 2 gloo ranks."""

from typing import List

import torch
import torch.distributed as dist

from espnet_omnirouter.layers.moe.experts import StackedExperts


class _AllToAll(torch.autograd.Function):
    """``all_to_all_single`` with uneven splits; its gradient goes back the same way."""

    @staticmethod
    def forward(ctx, inputs: torch.Tensor, send: List[int], receive: List[int], group):
        ctx.send, ctx.receive, ctx.group = send, receive, group
        output = inputs.new_empty(sum(receive), *inputs.shape[1:])
        dist.all_to_all_single(output, inputs.contiguous(), receive, send, group=group)
        return output

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        grad = grad_output.new_empty(sum(ctx.send), *grad_output.shape[1:])
        dist.all_to_all_single(grad, grad_output.contiguous(), ctx.send, ctx.receive, ctx.group)
        return grad, None, None, None


class ExpertParallelExperts(torch.nn.Module):
    """This rank's experts ``[rank * E_local, (rank + 1) * E_local)`` of ``num_experts``,
    with ``StackedExperts.forward``'s interface: tokens sorted by (global) expert, so the
    tokens for each rank are already one contiguous slice (dropless, uneven splits).

    Args:
        local: The E_local = E / group size experts this rank holds.
        num_experts: E, over the whole group.
        group: The expert-parallel process group (None: the default group).
    """

    def __init__(self, local: StackedExperts, num_experts: int, group=None):
        super().__init__()
        self.local = local
        self.num_experts = num_experts
        self.group = group
        self.ranks = dist.get_world_size(group)
        if local.num_experts * self.ranks != num_experts:
            raise ValueError(
                f"{self.ranks} ranks x {local.num_experts} local experts != {num_experts}"
            )

    def forward(
        self, tokens_by_expert: torch.Tensor, tokens_per_expert: torch.Tensor
    ) -> torch.Tensor:
        """(N, D) tokens sorted by expert, (E,) group sizes -> (N, D) expert outputs in
        the same order, zero after the E groups (dropped assignments)."""
        num_local = self.local.num_experts
        # Each rank learns how many tokens every rank sends to each of its local experts.
        received_per_expert = torch.empty_like(tokens_per_expert)
        dist.all_to_all_single(received_per_expert, tokens_per_expert, group=self.group)
        received_per_expert = received_per_expert.view(self.ranks, num_local)  # (source, e)
        send = tokens_per_expert.view(self.ranks, num_local).sum(1).tolist()
        receive = received_per_expert.sum(1).tolist()
        grouped = sum(send)
        received = _AllToAll.apply(tokens_by_expert[:grouped], send, receive, self.group)
        # Rows arrive by (source rank, local expert); the local experts want them by expert.
        expert_of_row = torch.arange(num_local, device=received.device).repeat(self.ranks)
        expert_of_row = expert_of_row.repeat_interleave(received_per_expert.view(-1))
        order = torch.argsort(expert_of_row, stable=True)
        outputs = self.local(received[order], received_per_expert.sum(0))
        outputs = outputs[torch.argsort(order)]
        returned = _AllToAll.apply(outputs, receive, send, self.group)
        dropped = tokens_by_expert.new_zeros(tokens_by_expert.shape[0] - grouped, returned.shape[1])
        return torch.cat([returned, dropped])
