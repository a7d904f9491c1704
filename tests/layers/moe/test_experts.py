"""Stacked experts under ESPnet's ``init`` option: each expert has the scale ESPnet gives a
dense FFN of its shape, biases zero; a shared router is one parameter, initialised once."""

import pytest
import torch
from conftest import TINY_CONFORMER
from espnet2.torch_utils import initialize as initialize_module
from espnet2.torch_utils.initialize import initialize

from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.layers.moe.experts import StackedExperts, espnet_init_in_progress
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.utils.legacy_nets import PositionwiseFeedForward

D, H, E = 32, 512, 3
# The installed ESPnet's ``init`` choices (202609 and later list them; "chainer" is gone).
ESPNET_INITS = list(
    getattr(initialize_module, "INITIALIZATIONS", None)
    or ("chainer", "xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal", "normal")
)


class ExpertsBesideDense(torch.nn.Module):
    """A MoE layer and a dense FFN of one expert's shape, initialised by one call."""

    def __init__(self):
        super().__init__()
        self.moe = MoEFeedForward(D, H, 0.0, torch.nn.ReLU(), num_experts=E)
        self.dense = PositionwiseFeedForward(D, H, 0.0)


def std_ratio(tensor: torch.Tensor, reference: torch.Tensor) -> float:
    return float(tensor.detach().std() / reference.detach().std())


@pytest.mark.parametrize("init", ESPNET_INITS + [None])
def test_every_expert_gets_the_scale_of_a_dense_ffn_of_its_shape(init):
    torch.manual_seed(0)
    model = ExpertsBesideDense()
    if init is not None:
        initialize(model, init)
    experts, dense = model.moe.experts, model.dense
    # Stacked (E, D, H) and (E, H, D) against torch.nn.Linear's (out, in) of one expert.
    for expert in range(E):
        for stacked, linear in ((experts.w_1, dense.w_1), (experts.w_2, dense.w_2)):
            # 16384 draws: the sample std is within 1% of the true one (several sigma);
            # the stacked fans would make it 3x (xavier) to 23x (kaiming, chainer) smaller.
            assert std_ratio(stacked[expert], linear.weight) == pytest.approx(1.0, abs=0.05)
            assert stacked[expert].mean().abs() < 0.05 * linear.weight.std()
    if init is None:  # torch.nn.Linear's default: biases U(+-1/sqrt(fan_in))
        for stacked, linear in ((experts.b_1, dense.w_1), (experts.b_2, dense.w_2)):
            for expert in range(E):
                assert std_ratio(stacked[expert], linear.bias) == pytest.approx(1.0, abs=0.2)
    else:
        for bias in (experts.b_1, experts.b_2, dense.w_1.bias, dense.w_2.bias):
            assert torch.count_nonzero(bias) == 0
    assert not torch.equal(experts.w_1[0], experts.w_1[1])  # independent draws


@pytest.mark.parametrize("init", ["xavier_uniform", "kaiming_normal"])
def test_a_shared_router_is_one_parameter_initialised_like_a_dense_linear(init):
    torch.manual_seed(0)
    conf = {**TINY_CONFORMER, "output_size": 64}
    encoder = MoEConformerEncoder(20, moe_conf={"type": "omni", "num_experts": 8}, **conf)
    reference = torch.nn.Sequential(torch.nn.Linear(64, 8, bias=False))
    initialize(torch.nn.ModuleList([encoder, reference]), init)
    weight = encoder.shared_router.linear.weight
    assert sum(p is weight for p in encoder.parameters()) == 1  # drawn once by ESPnet
    assert all(layer.shares_router and layer.router is None for layer in encoder.moe_layers)
    # 512 draws: within 15% (5 sigma) of a dense Linear of the router's shape.
    assert std_ratio(weight, reference[0].weight) == pytest.approx(1.0, abs=0.15)
    expert_weights = encoder.moe_layers[0].experts.w_1[0]
    dense_ffn = encoder.encoders[0].feed_forward_macaron.experts.w_1.shape[1:]
    assert expert_weights.shape == dense_ffn


def test_the_hook_belongs_to_espnets_initialize():
    experts = StackedExperts(2, 4, 8, 0.0, torch.nn.ReLU())
    with pytest.raises(RuntimeError, match="initialize"):
        experts.espnet_initialization_fn()
    with pytest.raises(RuntimeError, match="initialize"):
        espnet_init_in_progress()
