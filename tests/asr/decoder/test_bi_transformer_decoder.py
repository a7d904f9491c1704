import torch
from conftest import TINY_DECODER

from espnet_omnirouter.asr.decoder.bi_transformer_decoder import BiTransformerDecoder
from espnet_omnirouter.asr.decoder.moe_transformer_decoder import MoETransformerDecoder
from espnet_omnirouter.layers.moe.routing import collect_routing

VOCAB, DIM = 7, 16
SOS = EOS = VOCAB - 1
MOE = {"type": "u2pp", "num_experts": 2}


def bi_decoder(moe_conf=MOE, **overrides) -> BiTransformerDecoder:
    torch.manual_seed(0)
    return BiTransformerDecoder(VOCAB, DIM, moe_conf=moe_conf, **{**TINY_DECODER, **overrides})


def batch():
    """Encoder output, its lengths, <sos> + tokens and <sos> + reversed tokens (both
    padded with eos at the end) and their lengths."""
    torch.manual_seed(1)
    ys_in = torch.tensor([[SOS, 1, 2, 3], [SOS, 4, 5, EOS]])
    r_ys_in = torch.tensor([[SOS, 3, 2, 1], [SOS, 5, 4, EOS]])
    return torch.randn(2, 9, DIM), torch.tensor([9, 6]), ys_in, torch.tensor([4, 3]), r_ys_in


def test_forward_is_the_left_to_right_decoder():
    bi = bi_decoder().eval()
    torch.manual_seed(0)
    l2r = MoETransformerDecoder(VOCAB, DIM, moe_conf=MOE, **TINY_DECODER).eval()
    left_state = {k: v for k, v in bi.state_dict().items() if not k.startswith("right_decoder.")}
    l2r.load_state_dict(left_state, strict=True)
    hs, hlens, ys_in, ys_lens, r_ys_in = batch()
    expected, expected_lens = l2r(hs, hlens, ys_in, ys_lens)
    out, lens = bi(hs, hlens, ys_in, ys_lens)
    assert torch.equal(out, expected) and torch.equal(lens, expected_lens)
    l_logits, r_logits, olens = bi.forward_bidirectional(hs, hlens, ys_in, ys_lens, r_ys_in)
    assert torch.equal(l_logits, expected) and torch.equal(olens, expected_lens)
    assert torch.equal(r_logits, bi.right_decoder(hs, hlens, r_ys_in, ys_lens)[0])
    assert r_logits.shape == (2, 4, VOCAB)
    # ESPnet's incremental scoring is the left-to-right decoder's too.
    log_probs, _ = bi.score(ys_in[0], None, hs[0])
    torch.testing.assert_close(log_probs, expected[0, -1].log_softmax(-1))


def test_right_to_left_decoder_has_its_own_parameters_and_blocks():
    bi = bi_decoder(num_blocks=2, r_num_blocks=1)
    assert len(bi.decoders) == 2 and len(bi.right_decoder.decoders) == 1
    assert len(bi_decoder(num_blocks=3).right_decoder.decoders) == 3
    right = {p.data_ptr() for p in bi.right_decoder.parameters()}
    left = {p.data_ptr() for n, p in bi.named_parameters() if not n.startswith("right_decoder.")}
    assert right and left and not right & left
    assert [layer.layer_name for layer in bi.moe_layers] == ["dec0_ffn", "dec1_ffn", "rdec0_ffn"]
    hs, hlens, ys_in, ys_lens, r_ys_in = batch()
    _, r_logits, _ = bi.forward_bidirectional(hs, hlens, ys_in, ys_lens, r_ys_in)
    r_logits.sum().backward()
    assert all(p.grad is None for p in bi.decoders.parameters())
    assert all(p.grad is not None for p in bi.right_decoder.decoders.parameters())


def test_omni_router_per_direction():
    bi = bi_decoder({"type": "omni", "num_experts": 2})
    assert [k for k in bi.state_dict() if "router" in k] == [
        "shared_router.linear.weight",
        "right_decoder.shared_router.linear.weight",
    ]
    assert all(layer.shares_router for layer in bi.moe_layers)
    with collect_routing() as records:
        bi.forward_bidirectional(*batch())
    left, right = bi.shared_router.linear.weight, bi.right_decoder.shared_router.linear.weight
    for record in records:
        weight = left if record.layer in bi.moe_layers[:2] else right
        (grad,) = torch.autograd.grad(record.logits.sum(), weight, retain_graph=True)
        assert grad.abs().sum() > 0


def test_dense_directions_are_espnet_decoders():
    bi = bi_decoder({"type": "dense"})
    assert bi.moe_layers == [] and not [k for k in bi.state_dict() if "router" in k]


def test_left_to_right_forward_reports_only_its_own_routing():
    """Decoding runs only the left-to-right decoder: only its layers report."""
    bi = bi_decoder().eval()
    hs, hlens, ys_in, ys_lens, r_ys_in = batch()
    with collect_routing() as both:
        bi.forward_bidirectional(hs, hlens, ys_in, ys_lens, r_ys_in)
    assert [record.layer for record in both] == bi.moe_layers
    with collect_routing() as left:
        bi(hs, hlens, ys_in, ys_lens)
    assert [record.layer for record in left] == bi.moe_layers[:2]
    for record in both:
        assert record.expert_index.shape[0] == int(ys_lens.sum())
