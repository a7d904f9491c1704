"""The expert-parallel reference (experts sharded over 2 gloo ranks, all-to-all dispatch)
computes what the unsharded MoE layer computes on all ranks' tokens together."""

from pathlib import Path
from typing import Dict, List

import pytest
import torch
import torch.distributed as dist
from expert_parallel_reference import ExpertParallelExperts
from gloo_ranks import GLOO_AVAILABLE, run_on_ranks

from espnet_omnirouter.layers.moe.experts import StackedExperts
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.router import Router
from espnet_omnirouter.layers.moe.routing import collect_routing, report_routing

pytestmark = pytest.mark.skipif(
    not GLOO_AVAILABLE, reason="torch.distributed has no gloo backend in this build"
)

WORLD_SIZE, DIM, HIDDEN, EXPERTS = 2, 8, 16, 4
TOKENS = [10, 14]  # per rank: uneven, so the all-to-all splits are too


class OmniFFNs(torch.nn.Module):
    """Two residual MoE FFNs sharing one router (Omni-router), top-2 of 4 experts."""

    def __init__(self):
        super().__init__()
        self.router = Router(DIM, EXPERTS)
        self.layers = torch.nn.ModuleList(
            MoEFeedForward(DIM, HIDDEN, 0.0, torch.nn.SiLU(), EXPERTS, top_k=2, shares_router=True)
            for _ in range(2)
        )

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        """(#batch, time, D) -> (#batch, time, D); the layers' routing is reported."""
        for layer in self.layers:
            ys, record = layer(xs, router=self.router)
            report_routing(record)
            xs = xs + ys
        return xs


def shard_experts(model: OmniFFNs, rank: int, group_size: int) -> None:
    """Keep this rank's block of each layer's experts, behind the all-to-all."""
    for layer in model.layers:
        full = layer.experts
        num_local = full.num_experts // group_size
        block = slice(rank * num_local, (rank + 1) * num_local)
        local = StackedExperts(num_local, DIM, HIDDEN, 0.0, full.activation)
        with torch.no_grad():
            for name in ("w_1", "b_1", "w_2", "b_2"):
                getattr(local, name).copy_(getattr(full, name)[block])
        layer.experts = ExpertParallelExperts(local, full.num_experts)


def rank_tokens() -> List[torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    return [torch.randn(1, n, DIM, generator=generator) for n in TOKENS]


def expert_parallel_rank(rank: int, world_size: int) -> Dict:
    torch.manual_seed(0)
    model = OmniFFNs()
    shard_experts(model, rank, world_size)
    outputs = model(rank_tokens()[rank])
    # Each rank's share of the global loss (sum of squares over all tokens, divided by
    # their number), so the ranks' gradients add up to the global gradient.
    (outputs.pow(2).sum() / sum(TOKENS)).backward()
    router_grad = model.router.linear.weight.grad
    dist.all_reduce(router_grad)  # replicated parameter: summed over the ranks
    expert_grads = {
        f"layers.{i}.experts.{name}": getattr(layer.experts.local, name).grad
        for i, layer in enumerate(model.layers)
        for name in ("w_1", "b_1", "w_2", "b_2")
    }  # sharded: complete already, every rank's tokens came back through the all-to-all
    return {"outputs": outputs.detach(), "router": router_grad, "experts": expert_grads}


def test_expert_parallel_matches_one_process(tmp_path: Path):
    results = run_on_ranks(expert_parallel_rank, WORLD_SIZE, tmp_path)

    torch.manual_seed(0)
    reference = OmniFFNs()
    with collect_routing() as records:
        outputs = reference(torch.cat(rank_tokens(), dim=1))
    (outputs.pow(2).sum() / sum(TOKENS)).backward()
    for rank, result in enumerate(results):
        start = sum(TOKENS[:rank])
        expected = outputs[:, start : start + TOKENS[rank]].detach()
        torch.testing.assert_close(result["outputs"], expected, rtol=0, atol=1e-6)
        torch.testing.assert_close(
            result["router"], reference.router.linear.weight.grad, rtol=0, atol=1e-6
        )
        num_local = EXPERTS // WORLD_SIZE
        block = slice(rank * num_local, (rank + 1) * num_local)
        for key, grad in result["experts"].items():
            layer, name = key.split(".")[1], key.split(".")[-1]
            full = getattr(reference.layers[int(layer)].experts, name).grad
            torch.testing.assert_close(grad, full[block], rtol=0, atol=1e-6, msg=key)
    # Every expert ran somewhere: the test exercised all four shards and both directions.
    for record in records:
        assert torch.bincount(record.expert_index.view(-1), minlength=EXPERTS).min() > 0
