import pytest
import torch
from conftest import TINY_DECODER
from espnet2.asr.decoder.transformer_decoder import TransformerDecoder

from espnet_omnirouter.asr.decoder.moe_transformer_decoder import MoETransformerDecoder
from espnet_omnirouter.layers.moe.config import MoEConfigError
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.routing import collect_routing
from espnet_omnirouter.utils.legacy_nets import BatchBeamSearch

VOCAB, DIM = 7, 16
SOS = EOS = VOCAB - 1


def decoder(moe_conf=None, **overrides) -> MoETransformerDecoder:
    torch.manual_seed(0)
    return MoETransformerDecoder(VOCAB, DIM, moe_conf=moe_conf, **{**TINY_DECODER, **overrides})


def batch():
    """Encoder output (3, 9, DIM), its lengths, <sos>-prefixed tokens padded with eos
    (3, 5) and their lengths."""
    torch.manual_seed(1)
    ys_in = torch.tensor([[SOS, 1, 2, 3, 4], [SOS, 2, 5, EOS, EOS], [SOS, 3, EOS, EOS, EOS]])
    return torch.randn(3, 9, DIM), torch.tensor([9, 7, 4]), ys_in, torch.tensor([5, 3, 2])


def test_dense_is_exactly_espnet_transformer_decoder():
    ours = decoder({"type": "dense"}).eval()
    torch.manual_seed(0)
    espnet = TransformerDecoder(VOCAB, DIM, **TINY_DECODER).eval()
    assert list(ours.state_dict()) == list(espnet.state_dict())
    espnet.load_state_dict(ours.state_dict(), strict=True)
    hs, hlens, ys_in, ys_lens = batch()
    ours_out, ours_lens = ours(hs, hlens, ys_in, ys_lens)
    espnet_out, espnet_lens = espnet(hs, hlens, ys_in, ys_lens)
    assert torch.equal(ours_out, espnet_out) and torch.equal(ours_lens, espnet_lens)
    assert ours.moe_layers == []


def test_blocks_all_makes_every_decoder_ffn_an_moe_layer():
    dec = decoder({"type": "switch", "num_experts": 2}, num_blocks=3)
    assert len(dec.moe_layers) == 3
    assert [layer.layer_name for layer in dec.moe_layers] == ["dec0_ffn", "dec1_ffn", "dec2_ffn"]
    assert all(isinstance(layer.feed_forward, MoEFeedForward) for layer in dec.decoders)
    # Each expert has the dense FFN's sizes: D -> linear_units -> D.
    experts = dec.moe_layers[0].experts
    assert experts.w_1.shape == (2, DIM, TINY_DECODER["linear_units"])
    assert experts.w_2.shape == (2, TINY_DECODER["linear_units"], DIM)


def test_chosen_blocks_and_prefix():
    dec = decoder({"type": "switch", "num_experts": 2, "blocks": [1]}, moe_layer_prefix="x")
    assert [layer.layer_name for layer in dec.moe_layers] == ["x1_ffn"]
    assert not isinstance(dec.decoders[0].feed_forward, MoEFeedForward)


def test_invalid_moe_conf_names_the_decoder_key():
    with pytest.raises(MoEConfigError, match="decoder_conf.moe_conf.*no_such_key"):
        decoder({"type": "switch", "no_such_key": 1})
    with pytest.raises(MoEConfigError, match="out of range for num_blocks=2"):
        decoder({"type": "switch", "blocks": [2]})


def test_omni_has_one_router_stored_once_that_every_layer_trains():
    dec = decoder({"type": "omni", "num_experts": 4}, num_blocks=3)
    assert [k for k in dec.state_dict() if "router" in k] == ["shared_router.linear.weight"]
    assert all(layer.shares_router for layer in dec.moe_layers)
    with collect_routing() as records:
        dec(*batch())
    assert [record.layer for record in records] == dec.moe_layers
    weight = dec.shared_router.linear.weight
    for record in records:
        (grad,) = torch.autograd.grad(record.logits.sum(), weight, retain_graph=True)
        assert grad.abs().sum() > 0, record.layer_name


def test_switch_layers_have_their_own_routers():
    dec = decoder({"type": "switch", "num_experts": 4})
    assert [k for k in dec.state_dict() if "router" in k] == [
        "decoders.0.feed_forward.router.linear.weight",
        "decoders.1.feed_forward.router.linear.weight",
    ]


def test_padding_tokens_are_not_routed_and_do_not_change_outputs():
    dec = decoder({"type": "u2pp", "num_experts": 4}).eval()
    hs, hlens, ys_in, ys_lens = batch()
    with collect_routing() as records:
        out, _ = dec(hs, hlens, ys_in, ys_lens)
    assert len(records) == len(dec.moe_layers)
    for record in records:
        assert record.expert_index.shape == (int(ys_lens.sum()), 2)
    for row in range(3):
        length = int(ys_lens[row])
        one = slice(row, row + 1)
        alone, _ = dec(hs[one], hlens[one], ys_in[one, :length], ys_lens[one])
        torch.testing.assert_close(out[row, :length], alone[0], atol=1e-5, rtol=1e-5)


def test_dense_layers_stay_espnets_and_moe_layers_become_the_projects():
    dec = decoder({"type": "switch", "num_experts": 2, "blocks": [1]})
    assert type(dec.decoders[0]).__name__ == "DecoderLayer"
    assert type(dec.decoders[1]).__name__ == "MoEDecoderLayer"
    espnet = TransformerDecoder(VOCAB, DIM, **TINY_DECODER)
    assert {k for k in dec.state_dict() if "router" not in k and "experts" not in k} == {
        k for k in espnet.state_dict() if "decoders.1.feed_forward" not in k
    }


def test_incremental_batch_score_matches_full_forward():
    """ESPnet's beam search scores prefixes with batch_score and a per-layer cache: only
    the last position is computed (and routed) at each step."""
    dec = decoder({"type": "u2pp", "num_experts": 4}).eval()
    hs, _, _, _ = batch()
    ys = torch.tensor([[SOS, 1, 2, 3, 4], [SOS, 4, 4, 1, 5], [SOS, 5, 3, 3, 2]])
    full, _ = dec(hs, torch.full((3,), hs.size(1)), ys, torch.full((3,), ys.size(1)))
    states = [None] * len(ys)
    with torch.no_grad():
        for step in range(1, ys.size(1) + 1):
            with collect_routing() as records:
                log_probs, states = dec.batch_score(ys[:, :step], states, hs)
            torch.testing.assert_close(
                log_probs, full[:, step - 1].log_softmax(-1), atol=1e-5, rtol=1e-5
            )
            assert len(records) == len(dec.moe_layers)
            for record in records:
                assert record.expert_index.shape[0] == len(ys)


def test_espnet_beam_search_scores_equal_full_forward_log_probabilities():
    dec = decoder({"type": "u2pp", "num_experts": 4}).eval()
    memory = batch()[0][0]
    maxlen = memory.size(0)  # ESPnet's for maxlenratio=0
    search = BatchBeamSearch(
        scorers={"decoder": dec}, weights={"decoder": 1.0}, beam_size=3,
        vocab_size=VOCAB, sos=SOS, eos=EOS,
    )  # fmt: skip
    with torch.no_grad():
        nbest = search(memory, maxlenratio=0.0, minlenratio=0.0)
        assert len(nbest) >= 3
        for hyp in nbest:
            yseq = hyp.yseq.tolist()
            assert yseq[0] == SOS and yseq[-1] == EOS
            # ESPnet appends <eos> unscored to hypotheses still running at maxlen.
            scored = yseq[1:-1] if len(yseq) == maxlen + 2 else yseq[1:]
            ys = torch.tensor([yseq[: len(scored)]])
            logits, _ = dec(memory[None], torch.tensor([maxlen]), ys, torch.tensor([ys.size(1)]))
            log_probs = logits[0].log_softmax(-1)
            expected = sum(log_probs[i, token] for i, token in enumerate(scored))
            torch.testing.assert_close(hyp.score, expected, atol=1e-4, rtol=1e-5)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"input_layer": "linear"}, r"decoder_conf.input_layer='linear': an ASR decoder reads"),
        ({"use_output_layer": False}, r"decoder_conf.use_output_layer=False"),
        ({"pos_enc_class": "PositionalEncoding"}, r"decoder_conf.pos_enc_class"),
    ],
)
def test_options_of_non_token_decoders_are_refused(overrides, message):
    with pytest.raises(MoEConfigError, match=message):
        decoder({"type": "switch", "num_experts": 2}, **overrides)
    with pytest.raises(MoEConfigError, match=r"decoder_conf.moe_conf.ffn='second'"):
        decoder({"type": "switch", "num_experts": 2, "ffn": "second"})


@pytest.mark.parametrize(
    "overrides",
    [{"gradient_checkpoint_layers": [1, 2]}, {"qk_norm": True}, {"normalize_before": False},
     {"concat_after": True}, {"layer_drop_rate": 0.3}],
)  # fmt: skip
def test_inherited_options_train_and_decode_with_moe(overrides):
    dec = decoder({"type": "omni", "num_experts": 2}, **overrides).train()
    hs, hlens, ys_in, ys_lens = batch()
    with collect_routing() as records:
        logits, _ = dec(hs, hlens, ys_in, ys_lens)
    aux = sum(record.auxiliary_losses()["load_balancing_loss"] for record in records)
    (logits.logsumexp(-1).sum() + aux).backward()
    assert dec.shared_router.linear.weight.grad.abs().sum() > 0
    assert all(p.grad is not None for p in dec.decoders[0].feed_forward.experts.parameters())
    dec.eval()
    with torch.no_grad():
        full, _ = dec(hs[:1], hlens[:1], ys_in[:1], ys_lens[:1])
        step, _ = dec.score(ys_in[0, :3], None, hs[0])
    torch.testing.assert_close(step, full[0, 2].log_softmax(-1), rtol=1e-5, atol=1e-5)
