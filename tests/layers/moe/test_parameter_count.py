import torch

from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.parameter_count import count_parameters, format_count
from espnet_omnirouter.layers.moe.router import Router

D, H, E = 4, 6, 4
EXPERT_PARAMS = E * (D * H + H + H * D + D)


def test_top2_layer_activates_half_of_four_experts():
    layer = MoEFeedForward(D, H, 0.0, torch.nn.ReLU(), E, top_k=2)
    count = count_parameters(layer)
    assert count.total == EXPERT_PARAMS + D * E
    assert count.active == EXPERT_PARAMS // 2 + D * E


def test_shared_router_counts_once():
    owner = torch.nn.Module()
    owner.router = Router(D, E)
    owner.layers = torch.nn.ModuleList(
        MoEFeedForward(D, H, 0.0, torch.nn.ReLU(), E, shares_router=True) for _ in range(3)
    )
    assert count_parameters(owner).total == 3 * EXPERT_PARAMS + D * E


def test_format():
    assert format_count(3_412_345) == "3.41M"
