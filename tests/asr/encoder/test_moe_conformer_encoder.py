import pytest
import torch
from conftest import TINY_CONFORMER
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder

from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.layers.moe.config import MoEConfigError
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward

FEATS = 20


def encoder(moe_conf=None, **overrides) -> MoEConformerEncoder:
    torch.manual_seed(0)
    return MoEConformerEncoder(FEATS, moe_conf=moe_conf, **{**TINY_CONFORMER, **overrides})


def batch():
    torch.manual_seed(1)
    return torch.randn(2, 40, FEATS), torch.tensor([40, 27])


def test_dense_is_exactly_espnet_conformer():
    ours = encoder({"type": "dense"}).eval()
    torch.manual_seed(0)
    espnet = ConformerEncoder(FEATS, **TINY_CONFORMER).eval()
    assert list(ours.state_dict()) == list(espnet.state_dict())
    espnet.load_state_dict(ours.state_dict(), strict=True)
    xs, ilens = batch()
    ours_out, ours_lens, _ = ours(xs, ilens)
    espnet_out, espnet_lens, _ = espnet(xs, ilens)
    assert torch.equal(ours_out, espnet_out) and torch.equal(ours_lens, espnet_lens)


@pytest.mark.parametrize("ffn, per_block", [("both", 2), ("second", 1), ("macaron", 1)])
def test_ffn_and_block_selection(ffn, per_block):
    enc = encoder({"type": "switch", "num_experts": 2, "ffn": ffn, "blocks": [0, 2]})
    names = [layer.layer_name for layer in enc.moe_layers]
    expected = {"both": ["macaron", "ffn"], "second": ["ffn"], "macaron": ["macaron"]}[ffn]
    assert names == [f"enc{b}_{role}" for b in (0, 2) for role in expected]
    assert len(names) == 2 * per_block
    assert not isinstance(enc.encoders[1].feed_forward, MoEFeedForward)


def test_omni_has_one_router_that_every_layer_trains():
    enc = encoder({"type": "omni", "num_experts": 4})
    router_keys = [k for k in enc.state_dict() if "router" in k]
    assert router_keys == ["shared_router.linear.weight"]
    layers = enc.moe_layers
    assert len(layers) == 6 and all(layer.router is enc.shared_router for layer in layers)
    xs, ilens = batch()
    enc(xs, ilens)
    weight = enc.shared_router.linear.weight
    for layer in layers:
        (grad,) = torch.autograd.grad(layer.last_routing.logits.sum(), weight, retain_graph=True)
        assert grad.abs().sum() > 0, layer.layer_name
    out, _, _ = enc(xs, ilens)
    out.sum().backward()
    assert weight.grad.abs().sum() > 0


def test_switch_routers_are_independent():
    enc = encoder({"type": "switch", "num_experts": 4})
    routers = [layer.router for layer in enc.moe_layers]
    assert len({id(r) for r in routers}) == len(routers) == 6
    assert not hasattr(enc, "shared_router") or enc.shared_router is None
    router_keys = [k for k in enc.state_dict() if "router" in k]
    assert len(router_keys) == 6
    xs, ilens = batch()
    enc(xs, ilens)
    first, last = enc.moe_layers[0], enc.moe_layers[-1]
    # The first layer's choices cannot depend on any later layer's router.
    grad = torch.autograd.grad(
        first.last_routing.logits.sum(), last.router.linear.weight, allow_unused=True
    )[0]
    assert grad is None
    assert not torch.equal(first.router.linear.weight, last.router.linear.weight)


def test_padding_is_passed_to_moe_layers():
    enc = encoder({"type": "switch", "num_experts": 2}).eval()
    xs, ilens = batch()
    _, olens, _ = enc(xs, ilens)
    for layer in enc.moe_layers:
        assert layer.last_routing.expert_index.shape[0] == int(olens.sum())


def test_skipped_layers_report_no_stale_routing():
    enc = encoder({"type": "switch", "num_experts": 2}, stochastic_depth_rate=[0.0, 0.999999, 0.0])
    enc.train()
    xs, ilens = batch()
    enc(xs, ilens)
    routed = [layer.layer_name for layer in enc.moe_layers if layer.last_routing is not None]
    assert routed == ["enc0_macaron", "enc0_ffn", "enc2_macaron", "enc2_ffn"]


def test_config_errors_name_the_key():
    with pytest.raises(MoEConfigError, match="macaron_style"):
        encoder({"type": "switch", "ffn": "both"}, macaron_style=False)
    with pytest.raises(MoEConfigError, match="positionwise_layer_type"):
        encoder({"type": "omni"}, positionwise_layer_type="conv1d")
    with pytest.raises(MoEConfigError, match=r"moe_conf.blocks=\[7\]"):
        encoder({"type": "omni", "blocks": [7]})
