"""MoE layers and models under PyTorch DDP on 2 gloo CPU ranks, as ESPnet wraps them
(``DistributedDataParallel(model, find_unused_parameters=--unused_parameters)``, default
False): idle experts and the shared Omni-router. (A U2++ right-to-left decoder that would
get no gradient, reverse_weight 0, is refused when the model is built: test_u2pp_model.)"""

from pathlib import Path
from typing import Dict, List

import pytest
import torch
from gloo_ranks import GLOO_AVAILABLE, run_on_ranks
from torch.nn.parallel import DistributedDataParallel

from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.router import Router
from espnet_omnirouter.layers.moe.routing import collect_routing, report_routing

pytestmark = pytest.mark.skipif(
    not GLOO_AVAILABLE, reason="torch.distributed has no gloo backend in this build"
)

WORLD_SIZE = 2
DIM, HIDDEN, EXPERTS, TOKENS_PER_RANK, STEPS = 8, 16, 2, 12, 3


class SignRoutedOmniFFNs(torch.nn.Module):
    """Two residual MoE FFNs sharing one router (Omni-router) that sends a token to
    expert 0 when its feature 0 is positive, else to expert 1."""

    def __init__(self, backend: str):
        super().__init__()
        self.router = Router(DIM, EXPERTS)
        with torch.no_grad():
            self.router.linear.weight.zero_()
            self.router.linear.weight[:, 0] = torch.tensor([0.5, -0.5])
        self.layers = torch.nn.ModuleList(
            MoEFeedForward(
                DIM, HIDDEN, 0.0, torch.nn.SiLU(), EXPERTS, shares_router=True,
                expert_backend=backend,
            )
            for _ in range(2)
        )  # fmt: skip

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        """(#batch, time, D) -> (#batch, time, D); the layers' routing is reported."""
        for layer in self.layers:
            ys, record = layer(xs, router=self.router)
            report_routing(record)
            xs = xs + ys
        return xs


def rank_inputs(expert_1_users: List[int]) -> List[torch.Tensor]:
    """(1, TOKENS_PER_RANK, D) per rank; feature 0 is +-2 (half each) on the ranks in
    ``expert_1_users``, +2 elsewhere, so expert 1 gets no token on the other ranks."""
    generator = torch.Generator().manual_seed(0)
    inputs = []
    for rank in range(WORLD_SIZE):
        xs = torch.randn(1, TOKENS_PER_RANK, DIM, generator=generator)
        sign = torch.ones(TOKENS_PER_RANK)
        if rank in expert_1_users:
            sign[1::2] = -1.0
        xs[0, :, 0] = 2.0 * sign
        inputs.append(xs)
    return inputs


def train_steps(model: torch.nn.Module, xs: torch.Tensor) -> List[torch.Tensor]:
    """STEPS of SGD on mean squared output; returns each step's (layers, E) token counts."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    loads = []
    for _ in range(STEPS):
        optimizer.zero_grad()
        with collect_routing() as records:
            outputs = model(xs)
        outputs.pow(2).mean().backward()
        optimizer.step()
        loads.append(
            torch.stack([torch.bincount(r.expert_index.view(-1), minlength=EXPERTS)
                         for r in records])
        )  # fmt: skip
    return loads


def ddp_rank(rank: int, world_size: int, backend: str, expert_1_users: List[int]) -> Dict:
    torch.manual_seed(0)
    model = SignRoutedOmniFFNs(backend)
    ddp = DistributedDataParallel(model, find_unused_parameters=False)
    loads = train_steps(ddp, rank_inputs(expert_1_users)[rank])
    return {"state": model.state_dict(), "loads": torch.stack(loads)}


@pytest.mark.parametrize("backend", ["loop", "grouped_mm"])
@pytest.mark.parametrize("expert_1_users", [[0], []], ids=["idle_on_rank1", "idle_everywhere"])
def test_idle_expert_keeps_ddp_synchronised(tmp_path: Path, backend: str, expert_1_users):
    results = run_on_ranks(ddp_rank, WORLD_SIZE, tmp_path, backend, expert_1_users)
    for rank, result in enumerate(results):  # the routing really left expert 1 idle
        expert_1_used = result["loads"][..., 1] > 0
        assert expert_1_used.all() if rank in expert_1_users else not expert_1_used.any()

    torch.manual_seed(0)
    reference = SignRoutedOmniFFNs(backend)
    initial = {k: v.clone() for k, v in reference.state_dict().items()}
    train_steps(reference, torch.cat(rank_inputs(expert_1_users), dim=1))
    expected = reference.state_dict()
    for result in results:
        assert result["state"].keys() == expected.keys()
        for key, value in expected.items():
            torch.testing.assert_close(result["state"][key], value, rtol=0, atol=1e-6, msg=key)
    # The shared router is one DDP parameter, trained as in one process (not twice).
    assert [k for k in expected if "router" in k] == ["router.linear.weight"]
    assert (expected["router.linear.weight"] - initial["router.linear.weight"]).abs().max() > 1e-3
    w_1 = expected["layers.1.experts.w_1"][1] - initial["layers.1.experts.w_1"][1]
    if expert_1_users:  # rank 1's zero gradient was averaged with rank 0's
        assert w_1.abs().max() > 1e-3
    else:
        assert w_1.abs().max() == 0
