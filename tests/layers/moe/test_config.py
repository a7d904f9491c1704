import pytest

from espnet_omnirouter.layers.moe.config import MoEConfig, MoEConfigError


@pytest.mark.parametrize(
    "conf, message",
    [
        (
            {"type": "expert"},
            r"moe_conf.type='expert': must be one of \('dense', 'switch', 'omni', 'u2pp'\)",
        ),
        (
            {"num_experts": 2, "top_k": 3},
            r"moe_conf.top_k=3: must be an integer in \[1, num_experts=2\]",
        ),
        ({"gate_normalization": "max"}, r"moe_conf.gate_normalization='max'"),
        ({"ffn": "third"}, r"moe_conf.ffn='third'"),
        ({"blocks": "every_0"}, r"moe_conf.blocks='every_0'"),
        ({"blocks": [1, -2]}, r"moe_conf.blocks=\[1, -2\]"),
        (
            {"load_balancing_weight": -0.1},
            r"moe_conf.load_balancing_weight=-0.1: must be a number >= 0",
        ),
        ({"z_loss_weight": -1}, r"moe_conf.z_loss_weight=-1"),
        ({"capacity_factor": 0}, r"moe_conf.capacity_factor=0"),
        ({"jitter_noise": 1.5}, r"moe_conf.jitter_noise=1.5"),
        ({"num_expert": 4}, r"unknown key\(s\) \['num_expert'\]"),
        (
            {"type": "switch", "num_experts": 1},
            r"moe_conf.num_experts=1: one expert .* type: dense",
        ),
        (
            {"type": "u2pp", "top_k": 1},
            r"moe_conf.top_k=1: with gate_normalization: topk_softmax .* every gate exactly 1",
        ),
    ],
)
def test_bad_values_name_the_key(conf, message):
    with pytest.raises(MoEConfigError, match=message):
        MoEConfig.from_dict(conf)


def test_block_selection():
    assert MoEConfig(blocks="all").moe_blocks(4) == {0, 1, 2, 3}
    assert MoEConfig(blocks="every_2").moe_blocks(6) == {1, 3, 5}
    assert MoEConfig(blocks=[0, 3]).moe_blocks(4) == {0, 3}
    with pytest.raises(MoEConfigError, match=r"indices \[4\] are out of range"):
        MoEConfig(blocks=[0, 4]).moe_blocks(4)


def test_u2pp_preset_is_wenets_and_explicit_keys_win():
    conf = MoEConfig.from_dict({"type": "u2pp"})
    assert (conf.num_experts, conf.top_k, conf.gate_normalization) == (8, 2, "topk_softmax")
    assert conf.load_balancing_weight == conf.z_loss_weight == 0 and not conf.shares_router
    assert MoEConfig.from_dict({"type": "u2pp", "num_experts": 4}).num_experts == 4
    assert MoEConfig.from_dict({"type": "omni"}).shares_router
