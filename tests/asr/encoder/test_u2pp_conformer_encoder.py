"""U2++ Conformer: chunk masks in forward, streaming equals the masked forward, MoE in
every FFN, dynamic chunk draws, configuration errors."""

import pytest
import torch
from conftest import TINY_CONFORMER

from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder
from espnet_omnirouter.layers.moe.config import MoEConfigError
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.routing import collect_routing

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
    with torch.no_grad():
        masked, lengths, _ = model(
            features, torch.tensor([67]), chunk_size=chunk_size, num_left_chunks=num_left
        )
        streamed = model.forward_chunk_by_chunk(features, chunk_size, num_left)
    assert streamed.shape == masked.shape == (1, int(lengths), 16)
    assert torch.allclose(streamed, masked, atol=1e-5)


def test_chunk_mask_limits_what_a_frame_sees():
    model = encoder().eval()
    features = torch.randn(1, 67, FEATURES)
    changed = features.clone()
    changed[:, 40:] = torch.randn(1, 27, FEATURES)  # input frame 40 feeds output frame 9 on
    with torch.no_grad():
        a, b = (
            model(features, torch.tensor([67]), chunk_size=4)[0],
            model(changed, torch.tensor([67]), chunk_size=4)[0],
        )
    assert torch.allclose(a[:, :8], b[:, :8], atol=1e-6)  # chunks 0-1 end before frame 8
    assert not torch.allclose(a[:, 8:], b[:, 8:])
    # full context: every frame sees the change
    with torch.no_grad():
        a, b = (
            model(features, torch.tensor([67]), chunk_size=0)[0],
            model(changed, torch.tensor([67]), chunk_size=0)[0],
        )
    assert not torch.allclose(a[:, 0], b[:, 0])


def test_padding_does_not_change_the_valid_frames_and_is_not_routed():
    model = encoder({"type": "u2pp", "num_experts": 4}).eval()
    # Chunks of one frame: ESPnet's subsampled padding mask keeps one frame more than the
    # convolutions output for 43 frames (11 vs 10); no earlier frame may see it.
    short = torch.randn(1, 43, FEATURES)
    batch = torch.cat([short, torch.zeros(1, 24, FEATURES)], dim=1).repeat(2, 1, 1)
    batch[1] = torch.randn(67, FEATURES)
    with torch.no_grad():
        alone, alone_lengths, _ = model(short, torch.tensor([43]), chunk_size=1)
        with collect_routing() as records:
            padded, lengths, _ = model(batch, torch.tensor([43, 67]), chunk_size=1)
    assert torch.allclose(padded[0, : int(alone_lengths)], alone[0], atol=1e-5)
    assert len(records) == len(model.moe_layers)
    assert all(record.expert_index.shape[0] == int(lengths.sum()) for record in records)


def test_u2pp_moe_makes_both_ffns_of_every_block_moe():
    model = encoder({"type": "u2pp"})
    moe = [m for m in model.modules() if isinstance(m, MoEFeedForward)]
    assert len(moe) == 2 * TINY_CONFORMER["num_blocks"] == len(model.moe_layers)
    assert all(m.num_experts == 8 and m.top_k == 2 and not m.shares_router for m in moe)


def test_dynamic_chunk_training_draws_full_context_about_half_the_time():
    model = encoder().train()
    torch.manual_seed(1)
    draws = [tuple(map(int, model.chunk_config(100))) for _ in range(2000)]
    full = sum(size == 100 for size, _ in draws) / len(draws)
    assert 0.45 < full < 0.55
    sizes = {size for size, _ in draws if size != 100}
    assert sizes == set(range(1, 26)) and all(left == -1 for _, left in draws)
    model.use_dynamic_left_chunk = True
    draws = [tuple(map(int, model.chunk_config(100))) for _ in range(500)]
    lefts = {left for size, left in draws if size < 100}
    assert min(lefts) == 0 and max(lefts) > 3


def test_static_chunk_and_evaluation_defaults():
    model = encoder(static_chunk_size=8, use_dynamic_chunk=False)
    assert model.train().chunk_config(50) == (8, -1)
    assert model.eval().chunk_config(50) == (8, -1)
    assert model.chunk_config(50, 4, 2) == (4, 2)  # forward's chunk_size, num_left_chunks
    assert model.chunk_config(50, 0) == (50, -1)  # 0: full context
    configured = encoder(decoding_chunk_size=4, num_decoding_left_chunks=2).eval()
    assert configured.chunk_config(50) == (4, 2)  # None: encoder_conf's decoding chunk
    assert encoder().eval().chunk_config(50) == (50, -1)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"rel_pos_type": "latest"}, "legacy relative positions"),
        ({"selfattention_layer_type": "selfattn", "pos_enc_layer_type": "abs_pos"}, "legacy"),
        ({"input_layer": "embed"}, r"input_layer='embed'"),
        ({"positionwise_layer_type": "conv1d"}, r"positionwise_layer_type='conv1d'"),
        ({"interctc_layer_idx": [1], "ctc_trim": True}, r"ctc_trim=True"),
        ({"interctc_use_conditioning": True}, r"interctc_use_conditioning=True .* interctc_layer"),
        ({"qk_norm": True}, r"qk_norm=True has no effect"),
        ({"zero_triu": True}, r"zero_triu=True has no effect"),
        ({"full_context_prob": 1.5}, "full_context_prob"),
        ({"layer_drop_rate": 1.0}, "layer_drop_rate"),
    ],
)
def test_configuration_errors_name_the_key(overrides, message):
    with pytest.raises(MoEConfigError, match=message):
        encoder(**overrides)


@pytest.mark.parametrize("input_layer", ["conv2d1", "conv2d2", "conv2d6", "conv2d8", "linear"])
def test_every_input_layer_streams_like_the_masked_forward(input_layer):
    model = encoder({"type": "switch", "num_experts": 2}, input_layer=input_layer).eval()
    length = 19 * model.subsampling_rate + model.right_context + 1  # 20 encoder frames
    features = torch.randn(1, length, FEATURES)
    with torch.no_grad():
        masked, lengths, _ = model(
            features, torch.tensor([length]), chunk_size=3, num_left_chunks=1
        )
        streamed = model.forward_chunk_by_chunk(features, 3, 1)
    assert masked.size(1) == int(lengths) == 20
    torch.testing.assert_close(streamed, masked, rtol=0, atol=1e-5)


def test_streams_past_the_positional_table_with_bounded_state_and_no_memory_of_earlier_input():
    model = encoder({"type": "u2pp", "num_experts": 2}, max_pos_emb_len=16).eval()
    features = torch.randn(1, 4 * 59 + 7, FEATURES)  # 60 encoder frames: past the 16-frame table
    with torch.no_grad():
        masked, _, _ = model(
            features, torch.tensor([features.size(1)]), chunk_size=4, num_left_chunks=2
        )
        model(
            torch.randn(1, 4 * 300, FEATURES),
            torch.tensor([4 * 300]),
            chunk_size=4,
            num_left_chunks=2,
        )  # a long input between
        again, _, _ = model(
            features, torch.tensor([features.size(1)]), chunk_size=4, num_left_chunks=2
        )
        window, stride = model.streaming_window(4)
        outputs, state, offset = [], None, 0
        for start in range(0, features.size(1) - model.right_context, stride):
            out, state = model.forward_chunk(features[:, start : start + window], offset, 8, state)
            assert all(cache.size(1) <= 8 for cache in state[0])  # 2 left chunks of 4 frames
            outputs.append(out)
            offset += out.size(1)
    assert torch.equal(again, masked)
    assert offset == masked.size(1) == 60
    torch.testing.assert_close(torch.cat(outputs, dim=1), masked, rtol=0, atol=1e-5)


def test_output_lengths_are_each_utterances_own():
    model = encoder().eval()
    batch = torch.randn(3, 70, FEATURES)
    _, lengths, _ = model(batch, torch.tensor([70, 43, 25]))
    alone = [
        int(model(batch[i : i + 1, :n], torch.tensor([n]))[1]) for i, n in enumerate((70, 43, 25))
    ]
    assert lengths.tolist() == alone == [16, 10, 5]


def test_non_causal_convolution_decodes_chunk_masked_but_refuses_to_stream():
    model = encoder({"type": "u2pp", "num_experts": 2}, causal=False)
    assert not model.streamable and model.encoders[0].conv_module.depthwise_conv.padding == (2,)
    features = torch.randn(2, 67, FEATURES)
    out, lengths, _ = model.train()(features, torch.tensor([67, 50]))
    out.sum().backward()
    assert model.encoders[0].conv_module.depthwise_conv.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        model(features, torch.tensor([67, 50]), chunk_size=4)
    with pytest.raises(ValueError, match="causal: false"):
        model.forward_chunk_by_chunk(features[:1], 4)
    assert encoder(causal=False, use_cnn_module=False).streamable


def test_intermediate_ctc_with_conditioning_streams_like_the_masked_forward():
    from espnet2.asr.ctc import CTC

    model = encoder(
        {"type": "u2pp", "num_experts": 2},
        interctc_layer_idx=[1, 2],
        interctc_use_conditioning=True,
    )
    ctc = CTC(7, 16)
    model.conditioning_layer = torch.nn.Linear(7, 16)  # ESPnet's model adds it
    features = torch.randn(1, 67, FEATURES)
    with pytest.raises(ValueError, match="needs the model's CTC"):
        model(features, torch.tensor([67]))
    (out, intermediate), lengths, _ = model(features, torch.tensor([67]), ctc=ctc)
    assert [block for block, _ in intermediate] == [1, 2]
    assert all(hidden.shape == out.shape for _, hidden in intermediate)
    (out + intermediate[0][1]).sum().backward()
    assert model.conditioning_layer.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        (masked, _), _, _ = model(
            features, torch.tensor([67]), ctc=ctc, chunk_size=3, num_left_chunks=1
        )
        streamed = model.forward_chunk_by_chunk(features, 3, 1, ctc=ctc)
    torch.testing.assert_close(streamed, masked, rtol=0, atol=1e-5)


def test_layer_drop_skips_blocks_in_training_only():
    model = encoder({"type": "switch", "num_experts": 2}, layer_drop_rate=0.999)
    features = torch.randn(1, 43, FEATURES)
    with collect_routing() as training:
        model.train()(features, torch.tensor([43]))
    with collect_routing() as evaluation:
        model.eval()(features, torch.tensor([43]))
    assert training == [] and len(evaluation) == len(model.moe_layers)


# ESPnet's encoder tests go over the option space; here every input layer meets every MoE
# type once, with causal convolution, chunking, intermediate CTC and ESPnet's init cycled.
INPUT_LAYERS = ["conv2d", "conv2d1", "conv2d2", "conv2d6", "conv2d8", "linear"]
MOE_TYPES = ["dense", "switch", "omni", "u2pp"]
CHUNKING = [
    {"use_dynamic_chunk": True},
    {"use_dynamic_chunk": False, "static_chunk_size": 4},
    {"use_dynamic_chunk": True, "use_dynamic_left_chunk": True, "full_context_prob": 0.0},
]
INTERCTC = [
    {},
    {"interctc_layer_idx": [2]},
    {"interctc_layer_idx": [1, 2], "interctc_use_conditioning": True},
]
INITS = [None, "xavier_uniform", "kaiming_normal", "normal"]
OPTION_SPACE = [
    pytest.param(
        INPUT_LAYERS[i % 6],
        MOE_TYPES[i % 4],
        i < 6,  # each input layer once causal, once not
        CHUNKING[(i + 2 * (i // 6)) % 3],
        INTERCTC[(i + i // 6) % 3],
        INITS[(i // 3) % 4],
        id=f"{INPUT_LAYERS[i % 6]}-{MOE_TYPES[i % 4]}-{'causal' if i < 6 else 'lookahead'}",
    )
    for i in range(12)
]


@pytest.mark.parametrize("input_layer, moe_type, causal, chunking, interctc, init", OPTION_SPACE)
def test_option_space_trains_decodes_and_streams(
    input_layer, moe_type, causal, chunking, interctc, init
):
    from espnet2.asr.ctc import CTC
    from espnet2.torch_utils.initialize import initialize

    moe_conf = None if moe_type == "dense" else {"type": moe_type, "num_experts": 2}
    model = encoder(moe_conf, input_layer=input_layer, causal=causal, **chunking, **interctc)
    ctc = CTC(7, 16)
    if interctc.get("interctc_use_conditioning"):
        model.conditioning_layer = torch.nn.Linear(7, 16)
    if init is not None:
        initialize(torch.nn.ModuleList([model, ctc]), init)
    length = 13 * model.subsampling_rate + model.right_context + 1  # 14 encoder frames
    features = torch.randn(2, length, FEATURES)
    lengths = torch.tensor([length, length - 2 * model.subsampling_rate])
    with collect_routing() as records:
        out, olens, _ = model.train()(features, lengths, ctc=ctc)
    if interctc:
        out, intermediate = out
        assert [block for block, _ in intermediate] == interctc["interctc_layer_idx"]
    assert out.shape == (2, 14, 16) and olens.tolist() == [14, 12]
    aux = sum(record.weighted_auxiliary_loss(record.auxiliary_losses()) for record in records)
    (ctc(out, olens, torch.tensor([[2, 3], [4, 5]]), torch.tensor([2, 2])) + aux).backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(grad).all() for grad in grads)
    for layer in model.moe_layers:
        assert layer.experts.w_1.grad.abs().sum() > 0
        router = model.shared_router if layer.shares_router else layer.router
        assert router.linear.weight.grad.abs().sum() > 0
    model.eval()
    with torch.no_grad():
        masked, _, _ = model(features[:1], lengths[:1], ctc=ctc, chunk_size=3, num_left_chunks=1)
        masked = masked[0] if isinstance(masked, tuple) else masked
        assert ctc.argmax(masked).shape == (1, 14)  # CTC greedy decoding
        if model.streamable:
            streamed = model.forward_chunk_by_chunk(features[:1], 3, 1, ctc=ctc)
            torch.testing.assert_close(streamed, masked, rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "overrides",
    [
        {"normalize_before": False},
        {"concat_after": True},
        {"macaron_style": False},
        {"use_cnn_module": False},
        {"stochastic_depth_rate": [0.0, 0.5, 0.0], "activation_type": "relu"},
    ],
)
def test_block_options_train_and_stream(overrides):
    ffn = "second" if overrides.get("macaron_style") is False else "both"
    model = encoder({"type": "switch", "num_experts": 2, "ffn": ffn}, **overrides)
    features = torch.randn(2, 43, FEATURES)
    out, _, _ = model.train()(features, torch.tensor([43, 30]))
    out.sum().backward()
    model.eval()
    with torch.no_grad():
        masked, _, _ = model(features[:1], torch.tensor([43]), chunk_size=2, num_left_chunks=1)
        streamed = model.forward_chunk_by_chunk(features[:1], 2, 1)
    torch.testing.assert_close(streamed, masked, rtol=0, atol=1e-5)
