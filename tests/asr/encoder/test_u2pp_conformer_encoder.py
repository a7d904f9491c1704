"""U2++ Conformer: chunk masks in forward, streaming equals the masked forward, MoE in
every FFN, dynamic chunk draws, configuration errors."""

import pytest
import torch
from conftest import TINY_CONFORMER

from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder
from espnet_omnirouter.layers.moe.config import MoEConfigError
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward

U2PP_CONFORMER = {
    **TINY_CONFORMER,
    "rel_pos_type": "legacy",
    "pos_enc_layer_type": "rel_pos",
    "selfattention_layer_type": "rel_selfattn",
    "cnn_module_kernel": 5,
}
FEATURES = 20


def encoder(moe_conf=None, **overrides) -> U2ppConformerEncoder:
    torch.manual_seed(0)
    conf = {**U2PP_CONFORMER, **overrides}
    return U2ppConformerEncoder(FEATURES, moe_conf=moe_conf, **conf)


@pytest.mark.parametrize(
    "moe_conf", [None, {"type": "u2pp", "num_experts": 4}, {"type": "omni", "num_experts": 2}]
)
@pytest.mark.parametrize("chunk_size, num_left", [(1, -1), (4, -1), (3, 1), (2, 0)])
def test_streaming_equals_the_chunk_masked_forward(moe_conf, chunk_size, num_left):
    model = encoder(moe_conf).eval()
    features = torch.randn(1, 67, FEATURES)
    model.set_decoding_chunk(chunk_size, num_left)
    with torch.no_grad():
        masked, lengths, _ = model(features, torch.tensor([67]))
        streamed = model.forward_chunk_by_chunk(features, chunk_size, num_left)
    assert streamed.shape == masked.shape == (1, int(lengths), 16)
    assert torch.allclose(streamed, masked, atol=1e-5)


def test_chunk_mask_limits_what_a_frame_sees():
    model = encoder().eval()
    features = torch.randn(1, 67, FEATURES)
    changed = features.clone()
    changed[:, 40:] = torch.randn(1, 27, FEATURES)  # input frame 40 feeds output frame 9 on
    model.set_decoding_chunk(4)
    with torch.no_grad():
        a, b = model(features, torch.tensor([67]))[0], model(changed, torch.tensor([67]))[0]
    assert torch.allclose(a[:, :8], b[:, :8], atol=1e-6)  # chunks 0-1 end before frame 8
    assert not torch.allclose(a[:, 8:], b[:, 8:])
    model.set_decoding_chunk(0)  # full context: every frame sees the change
    with torch.no_grad():
        a, b = model(features, torch.tensor([67]))[0], model(changed, torch.tensor([67]))[0]
    assert not torch.allclose(a[:, 0], b[:, 0])


def test_padding_does_not_change_the_valid_frames_and_is_not_routed():
    model = encoder({"type": "u2pp", "num_experts": 4}).eval()
    # Chunks of one frame: ESPnet's subsampled padding mask keeps one frame more than the
    # convolutions output for 43 frames (11 vs 10); no earlier frame may see it.
    model.set_decoding_chunk(1)
    short = torch.randn(1, 43, FEATURES)
    batch = torch.cat([short, torch.zeros(1, 24, FEATURES)], dim=1).repeat(2, 1, 1)
    batch[1] = torch.randn(67, FEATURES)
    with torch.no_grad():
        alone, alone_lengths, _ = model(short, torch.tensor([43]))
        padded, lengths, _ = model(batch, torch.tensor([43, 67]))
    assert torch.allclose(padded[0, : int(alone_lengths)], alone[0], atol=1e-5)
    assert all(
        layer.last_routing.expert_index.shape[0] == int(lengths.sum()) for layer in model.moe_layers
    )


def test_u2pp_moe_makes_both_ffns_of_every_block_moe():
    model = encoder({"type": "u2pp"})
    moe = [m for m in model.modules() if isinstance(m, MoEFeedForward)]
    assert len(moe) == 2 * TINY_CONFORMER["num_blocks"] == len(model.moe_layers)
    assert all(m.num_experts == 8 and m.top_k == 2 and not m.shares_router for m in moe)


def test_dynamic_chunk_training_draws_full_context_about_half_the_time():
    model = encoder().train()
    torch.manual_seed(1)
    draws = [model.chunk_config(100) for _ in range(2000)]
    full = sum(size == 100 for size, _ in draws) / len(draws)
    assert 0.45 < full < 0.55
    sizes = {size for size, _ in draws if size != 100}
    assert sizes == set(range(1, 26)) and all(left == -1 for _, left in draws)
    model.use_dynamic_left_chunk = True
    lefts = {left for size, left in (model.chunk_config(100) for _ in range(500)) if size < 100}
    assert min(lefts) == 0 and max(lefts) > 3


def test_static_chunk_and_evaluation_defaults():
    model = encoder(static_chunk_size=8, use_dynamic_chunk=False)
    assert model.train().chunk_config(50) == (8, -1)
    assert model.eval().chunk_config(50) == (8, -1)
    model.set_decoding_chunk(4, 2)
    assert model.chunk_config(50) == (4, 2)
    assert encoder().eval().chunk_config(50) == (50, -1)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"rel_pos_type": "latest"}, "legacy relative positions"),
        ({"input_layer": "linear"}, "conv2d subsampling"),
        ({"full_context_prob": 1.5}, "full_context_prob"),
    ],
)
def test_configuration_errors_name_the_key(overrides, message):
    if overrides.get("rel_pos_type") == "latest":
        overrides = {
            **overrides,
            "pos_enc_layer_type": "rel_pos",
            "selfattention_layer_type": "rel_selfattn",
        }
    with pytest.raises(MoEConfigError, match=message):
        encoder(**overrides)
