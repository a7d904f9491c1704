import pytest
import torch
from conftest import TINY_CONFORMER, TINY_DECODER
from espnet2.asr.espnet_model import ESPnetASRModel
from espnet2.tasks.asr import ASRTask

from espnet_omnirouter.asr.decoder.bi_transformer_decoder import BiTransformerDecoder
from espnet_omnirouter.asr.u2pp_model import U2ppASRModel, reverse_padded
from espnet_omnirouter.utils.legacy_nets import add_sos_eos, pad_list

TOKENS = ["<blank>", "<unk>", "a", "b", "c", "<sos/eos>"]
MOE = {"type": "u2pp", "num_experts": 2}


def build(model="u2pp", decoder="bi_transformer", **model_conf):
    args = ASRTask.get_parser().parse_args([])
    vars(args).update(
        token_list=list(TOKENS),
        input_size=None,
        frontend="default",
        frontend_conf={"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": 8000},
        specaug=None,
        normalize="utterance_mvn",
        encoder="moe_conformer",
        encoder_conf={**TINY_CONFORMER, "moe_conf": MOE},
        decoder=decoder,
        decoder_conf={**TINY_DECODER, "moe_conf": MOE},
        model=model,
        model_conf={"ctc_weight": 0.3, "lsm_weight": 0.1, **model_conf},
    )
    torch.manual_seed(0)
    return ASRTask.build_model(args)


def batch():
    torch.manual_seed(2)
    return dict(
        speech=torch.randn(2, 3200),
        speech_lengths=torch.tensor([3200, 2400]),
        text=torch.tensor([[2, 3, 4, 4], [3, 2, -1, -1]]),
        text_lengths=torch.tensor([4, 2]),
    )


def test_registered_names_build_the_u2pp_model():
    model = build(reverse_weight=0.4)
    assert isinstance(model, U2ppASRModel) and isinstance(model.decoder, BiTransformerDecoder)
    assert model.reverse_weight == 0.4


def test_reverse_padded_reverses_valid_tokens_and_keeps_padding_at_the_end():
    ys = torch.tensor([[1, 2, 3, 4], [5, 6, -1, -1], [7, -1, -1, -1]])
    expected = torch.tensor([[4, 3, 2, 1], [6, 5, -1, -1], [7, -1, -1, -1]])
    assert torch.equal(reverse_padded(ys, torch.tensor([4, 2, 1])), expected)


def test_loss_is_ctc_plus_both_attention_directions():
    rw, cw = 0.4, 0.3
    model = build(reverse_weight=rw).eval()
    data = batch()
    loss, stats, _ = model(**{k: v.clone() for k, v in data.items()})
    with torch.no_grad():
        encoder_out, encoder_lens = model.encode(data["speech"], data["speech_lengths"])
        texts = [row[:length] for row, length in zip(data["text"], data["text_lengths"])]
        ys_in, ys_out = add_sos_eos(pad_list(texts, -1), model.sos, model.eos, -1)
        r_ys_in, r_ys_out = add_sos_eos(
            pad_list([t.flip(0) for t in texts], -1), model.sos, model.eos, -1
        )
        l_logits, r_logits, _ = model.decoder.forward_bidirectional(
            encoder_out, encoder_lens, ys_in, data["text_lengths"] + 1, r_ys_in
        )
        l2r = model.criterion_att(l_logits, ys_out)
        r2l = model.criterion_att(r_logits, r_ys_out)
        ctc = model.ctc(encoder_out, encoder_lens, data["text"], data["text_lengths"])
    loss_att = (1 - rw) * l2r + rw * r2l
    for name, value in [("loss_att_l2r", l2r), ("loss_att_r2l", r2l), ("loss_att", loss_att),
                        ("loss_ctc", ctc)]:  # fmt: skip
        torch.testing.assert_close(stats[name].reshape(()), value, msg=name)
    total = cw * ctc + (1 - cw) * loss_att  # U2++ MoE has no auxiliary loss
    torch.testing.assert_close(loss.reshape(()), total)
    torch.testing.assert_close(stats["loss"].reshape(()), total)
    assert stats["moe_aux_loss"] == 0
    assert any(name.startswith("moe_rdec") for name in stats)


def test_both_decoders_are_trained():
    model = build(reverse_weight=0.3)
    loss, _, _ = model(**batch())
    loss.backward()
    for decoder in (model.decoder.decoders, model.decoder.right_decoder):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder.parameters())


def test_reverse_weight_zero_is_espnet_left_to_right_loss():
    ours = build(decoder="moe_transformer", reverse_weight=0.0).eval()
    espnet = build(model="espnet", decoder="moe_transformer").eval()
    assert type(espnet) is ESPnetASRModel
    espnet.load_state_dict(ours.state_dict())
    loss, stats, _ = ours(**batch())
    espnet_loss, espnet_stats, _ = espnet(**batch())
    torch.testing.assert_close(loss, espnet_loss)
    torch.testing.assert_close(stats["loss_att"], espnet_stats["loss_att"])
    torch.testing.assert_close(stats["loss_att_l2r"], espnet_stats["loss_att"])
    assert "loss_att_r2l" not in stats


def test_an_untrained_right_to_left_decoder_is_refused():
    with pytest.raises(ValueError, match="reverse_weight=0 with decoder: bi_transformer"):
        build(reverse_weight=0.0)


@pytest.mark.parametrize("reverse_weight", [-0.1, 1.5])
def test_reverse_weight_outside_zero_one_is_an_error(reverse_weight):
    with pytest.raises(ValueError, match=r"model_conf.reverse_weight=.*must be in \[0, 1\]"):
        build(reverse_weight=reverse_weight)


def test_reverse_weight_needs_a_bidirectional_decoder():
    with pytest.raises(ValueError, match="model_conf.reverse_weight=0.3.*bi_transformer"):
        build(decoder="moe_transformer", reverse_weight=0.3)
    model = build(decoder="moe_transformer", reverse_weight=0.0)
    loss, stats, _ = model(**batch())
    assert torch.isfinite(loss) and "loss_att_l2r" in stats


U2PP_OPTIONS = [
    pytest.param(
        {"input_layer": "conv2d6", "interctc_layer_idx": [1], "interctc_use_conditioning": True},
        {"type": "u2pp", "num_experts": 2}, "xavier_uniform", id="conv2d6-selfconditioned-u2pp",
    ),
    pytest.param(
        {"input_layer": "linear", "causal": False, "layer_drop_rate": 0.2},
        {"type": "switch", "num_experts": 2}, "kaiming_normal", id="linear-lookahead-switch",
    ),
    pytest.param(
        {"input_layer": "conv2d8", "use_dynamic_chunk": False, "static_chunk_size": 2,
         "max_pos_emb_len": 8, "interctc_layer_idx": [2]},
        {"type": "omni", "num_experts": 2}, None, id="conv2d8-static-omni-short_table",
    ),
]  # fmt: skip


@pytest.mark.parametrize("encoder_conf, moe_conf, init", U2PP_OPTIONS)
def test_u2pp_options_train_decode_and_stream(tmp_path, encoder_conf, moe_conf, init):
    """Through ESPnet's task: build (with --init), a training step, ESPnet's beam search,
    attention rescoring and, where the encoder streams, the streaming recogniser."""
    import numpy as np
    import yaml

    from espnet_omnirouter.asr.decoding.eager_model import EagerModel
    from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
    from espnet_omnirouter.runtime.decoding import DecodingOptions, decode
    from espnet_omnirouter.runtime.streaming import StreamingRecognizer

    args = ASRTask.get_parser().parse_args([])
    vars(args).update(
        token_list=list(TOKENS), token_type="char", input_size=None, frontend="default",
        frontend_conf={"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": 8000},
        specaug=None, normalize=None, init=init, encoder="u2pp_conformer",
        encoder_conf={**TINY_CONFORMER, "rel_pos_type": "legacy", "cnn_module_kernel": 5,
                      **encoder_conf, "moe_conf": moe_conf},
        decoder="bi_transformer", decoder_conf={**TINY_DECODER, "moe_conf": moe_conf},
        model="u2pp", model_conf={"ctc_weight": 0.3, "interctc_weight": 0.3},
    )  # fmt: skip
    torch.manual_seed(0)
    model = ASRTask.build_model(args)
    loss, stats, _ = model(**batch())
    loss.backward()
    assert torch.isfinite(loss) and ("loss_interctc_layer1" in stats) == (
        "interctc_layer_idx" in encoder_conf and 1 in encoder_conf["interctc_layer_idx"]
    )
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), tmp_path / "model.pth")
    speech2text = load_speech2text(tmp_path / "config.yaml", tmp_path / "model.pth", beam_size=2)
    model = speech2text.asr_model.eval()
    samples = np.random.default_rng(0).standard_normal(6000).astype(np.float32) * 0.3
    speech2text.maxlenratio = -4.0  # at most 4 tokens: an untrained decoder rarely ends
    results = speech2text(samples)  # ESPnet's attention + CTC beam search
    if "interctc_layer_idx" in encoder_conf:  # with the intermediate CTC's results
        results, _ = results
    assert isinstance(results[0][0], str)
    eager = EagerModel(speech2text)
    options = DecodingOptions(4, 0.5, 0.3, chunk_size=2, num_left_chunks=1)
    expected = decode(eager, samples, "attention_rescoring", options)
    if not model.encoder.streamable:
        with pytest.raises(ValueError, match="causal: false"):
            StreamingRecognizer(eager, 2, 1)
        return
    recognizer = StreamingRecognizer(eager, 2, 1, beam_size=4, reverse_weight=0.3)
    for start in range(0, len(samples), 1000):
        recognizer.accept_waveform(samples[start : start + 1000])
    assert recognizer.finalize() == expected
