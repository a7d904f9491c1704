import pytest
import torch
from conftest import TINY_CONFORMER
from espnet2.asr.encoder.conformer_encoder import ConformerEncoder

from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.layers.moe.config import MoEConfigError
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.routing import collect_routing

FEATS = 20


def encoder(moe_conf=None, **overrides) -> MoEConformerEncoder:
    torch.manual_seed(0)
    return MoEConformerEncoder(FEATS, moe_conf=moe_conf, **{**TINY_CONFORMER, **overrides})


def batch():
    torch.manual_seed(1)
    return torch.randn(2, 40, FEATS), torch.tensor([40, 27])


def routed(enc: MoEConformerEncoder, xs: torch.Tensor, ilens: torch.Tensor):
    """The encoder's output, lengths and the routing records of its forward."""
    with collect_routing() as records:
        out, olens, _ = enc(xs, ilens)
    return out, olens, records


def test_dense_is_espnet_conformer_and_keeps_padding_out():
    """Same state dict and, for an utterance alone, the same output as ESPnet's; in a
    padded batch an utterance keeps that output, where ESPnet's convolution reads the
    padding (and its subsampled mask counts a frame more)."""
    ours = encoder({"type": "dense"}).eval()
    torch.manual_seed(0)
    espnet = ConformerEncoder(FEATS, **TINY_CONFORMER).eval()
    assert list(ours.state_dict()) == list(espnet.state_dict())
    espnet.load_state_dict(ours.state_dict(), strict=True)
    xs, ilens = batch()
    with torch.no_grad():
        batched, batched_lens, _ = ours(xs, ilens)
        for index, length in enumerate(ilens.tolist()):
            alone = xs[index : index + 1, :length], ilens[index : index + 1]
            ours_out, ours_lens, _ = ours(*alone)
            espnet_out, espnet_lens, _ = espnet(*alone)
            assert torch.equal(ours_out, espnet_out) and torch.equal(ours_lens, espnet_lens)
            assert batched_lens[index] == ours_lens[0]
            torch.testing.assert_close(
                batched[index, : ours_lens[0]], ours_out[0], rtol=0, atol=1e-5
            )


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
    assert len(layers) == 6 and all(layer.shares_router for layer in layers)
    xs, ilens = batch()
    _, _, records = routed(enc, xs, ilens)
    assert [record.layer for record in records] == layers
    weight = enc.shared_router.linear.weight
    for record in records:
        (grad,) = torch.autograd.grad(record.logits.sum(), weight, retain_graph=True)
        assert grad.abs().sum() > 0, record.layer_name
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
    _, _, records = routed(enc, xs, ilens)
    first, last = enc.moe_layers[0], enc.moe_layers[-1]
    # The first layer's choices cannot depend on any later layer's router.
    grad = torch.autograd.grad(
        records[0].logits.sum(), last.router.linear.weight, allow_unused=True
    )[0]
    assert grad is None
    assert not torch.equal(first.router.linear.weight, last.router.linear.weight)


def test_padding_is_passed_to_moe_layers():
    enc = encoder({"type": "switch", "num_experts": 2}).eval()
    xs, ilens = batch()
    _, olens, records = routed(enc, xs, ilens)
    assert len(records) == len(enc.moe_layers)
    for record in records:
        assert record.expert_index.shape[0] == int(olens.sum())


def test_skipped_layers_report_no_routing():
    enc = encoder({"type": "switch", "num_experts": 2}, stochastic_depth_rate=[0.0, 0.999999, 0.0])
    enc.train()
    xs, ilens = batch()
    _, _, records = routed(enc, xs, ilens)
    assert [r.layer_name for r in records] == [
        "enc0_macaron",
        "enc0_ffn",
        "enc2_macaron",
        "enc2_ffn",
    ]


def test_config_errors_name_the_key():
    with pytest.raises(MoEConfigError, match="macaron_style"):
        encoder({"type": "switch", "ffn": "both"}, macaron_style=False)
    with pytest.raises(MoEConfigError, match="positionwise_layer_type"):
        encoder({"type": "omni"}, positionwise_layer_type="conv1d")
    with pytest.raises(MoEConfigError, match=r"moe_conf.blocks=\[7\]"):
        encoder({"type": "omni", "blocks": [7]})


def test_legacy_positions_equal_espnets_and_do_not_depend_on_earlier_inputs():
    legacy = {"rel_pos_type": "legacy", "max_pos_emb_len": 16}
    ours = encoder({"type": "switch", "num_experts": 2}, **legacy).eval()
    xs, ilens = batch()  # 9 encoder frames: inside the 16-frame table
    with torch.no_grad():
        before, _, _ = ours(xs, ilens)
        ours(torch.randn(1, 4 * 40, FEATS), torch.tensor([160]))  # 39 frames: past the table
        after, _, _ = ours(xs, ilens)
    assert torch.equal(before, after)
    dense = encoder({"type": "dense"}, **legacy).eval()
    torch.manual_seed(0)
    espnet = ConformerEncoder(FEATS, **{**TINY_CONFORMER, **legacy}).eval()
    espnet.load_state_dict(dense.state_dict(), strict=True)
    with torch.no_grad():  # the unpadded utterance (ESPnet's convolution reads padding)
        torch.testing.assert_close(
            dense(xs[:1], ilens[:1])[0], espnet(xs[:1], ilens[:1])[0], rtol=0, atol=1e-6
        )


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"qk_norm": True}, r"encoder_conf.qk_norm=True has no effect without selfattention_"),
        ({"zero_triu": True, "rel_pos_type": "legacy"}, r"zero_triu=True has no effect"),
        ({"interctc_use_conditioning": True}, r"interctc_use_conditioning=True has no effect"),
        ({"ctc_trim": True}, r"ctc_trim=True: not supported"),
    ],
)
def test_options_espnet_would_ignore_are_refused(overrides, message):
    with pytest.raises(MoEConfigError, match=message):
        encoder({"type": "omni", "num_experts": 2}, **overrides)


POSITIONS = [
    {"rel_pos_type": "legacy"},
    {"rel_pos_type": "latest"},
    {"pos_enc_layer_type": "abs_pos", "selfattention_layer_type": "selfattn", "qk_norm": True},
    {"pos_enc_layer_type": "scaled_abs_pos", "selfattention_layer_type": "selfattn"},
]
INTERCTC = [
    {},
    {"interctc_layer_idx": [1]},
    {"interctc_layer_idx": [1, 2], "interctc_use_conditioning": True},
]
INITS = [None, "xavier_uniform", "kaiming_uniform"]
INPUT_LAYERS = ["conv2d", "conv2d2", "conv2d6", "conv2d8", "linear"]
MOE_TYPES = [
    "switch",
    "omni",
    "dense",
    "omni",
    "switch",
    "dense",
    "switch",
    "omni",
    "switch",
    "omni",
]


@pytest.mark.parametrize(
    "input_layer, positions, moe_type, interctc, init",
    [
        pytest.param(layer, POSITIONS[i % 4], moe, INTERCTC[(i + i // 5) % 3], INITS[(i // 4) % 3],
                     id=f"{layer}-{moe}-{i % 4}")
        for i, (layer, moe) in enumerate(zip(INPUT_LAYERS * 2, MOE_TYPES))
    ],
)  # fmt: skip
def test_option_space_trains_and_decodes(input_layer, positions, moe_type, interctc, init):
    from espnet2.asr.ctc import CTC
    from espnet2.torch_utils.initialize import initialize

    moe_conf = {"type": moe_type, "num_experts": 2}
    enc = encoder(moe_conf, input_layer=input_layer, **positions, **interctc)
    ctc = CTC(7, 16)
    if interctc.get("interctc_use_conditioning"):
        enc.conditioning_layer = torch.nn.Linear(7, 16)
    if init is not None:
        initialize(torch.nn.ModuleList([enc, ctc]), init)
    xs = torch.randn(2, 70, FEATS)
    with collect_routing() as records:
        out, olens, _ = enc.train()(xs, torch.tensor([70, 52]), ctc=ctc)
    if interctc:
        out, intermediate = out
        assert [block for block, _ in intermediate] == interctc["interctc_layer_idx"]
    aux = sum(record.weighted_auxiliary_loss(record.auxiliary_losses()) for record in records)
    (ctc(out, olens, torch.tensor([[2, 3], [4, 5]]), torch.tensor([2, 2])) + aux).backward()
    assert all(torch.isfinite(p.grad).all() for p in enc.parameters() if p.grad is not None)
    for layer in enc.moe_layers:
        assert layer.experts.w_1.grad.abs().sum() > 0
        router = enc.shared_router if layer.shares_router else layer.router
        assert router.linear.weight.grad.abs().sum() > 0
    enc.eval()
    with torch.no_grad():
        out, olens, _ = enc(xs, torch.tensor([70, 52]), ctc=ctc)
        out = out[0] if isinstance(out, tuple) else out
    assert ctc.argmax(out).shape == out.shape[:2]  # CTC greedy decoding
