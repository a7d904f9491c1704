import argparse

import pytest
import torch
import yaml
from conftest import TINY_CONFORMER
from espnet2.tasks.asr import ASRTask

from espnet_omnirouter.layers.moe.routing import collect_routing

TOKENS = ["<blank>", "<unk>", "a", "b", "c", "<sos/eos>"]


def build_args(moe_conf, model_conf=None) -> argparse.Namespace:
    parser = ASRTask.get_parser()
    args = parser.parse_args([])
    args.token_list = list(TOKENS)
    args.input_size = None
    args.frontend = "default"
    args.frontend_conf = {"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": 8000}
    args.specaug = None
    args.normalize = "utterance_mvn"
    args.encoder = "moe_conformer"
    args.encoder_conf = {**TINY_CONFORMER, "moe_conf": moe_conf}
    args.decoder = "transformer"
    args.decoder_conf = {"attention_heads": 2, "linear_units": 16, "num_blocks": 1}
    args.model = "moe_espnet"
    args.model_conf = {"ctc_weight": 1.0, **(model_conf or {})}
    return args


def build(moe_conf, model_conf=None):
    torch.manual_seed(0)
    return ASRTask.build_model(build_args(moe_conf, model_conf))


def batch():
    torch.manual_seed(2)
    return dict(
        speech=torch.randn(2, 3200),
        speech_lengths=torch.tensor([3200, 2400]),
        text=torch.tensor([[2, 3, 4], [3, 2, -1]]),
        text_lengths=torch.tensor([3, 2]),
    )


def aux_loss_effect(model_conf, weight=0.5):
    """(base loss, loss with the load-balancing loss at ``weight``, ESPnet's stats of the
    base model, the weighted model's stats, sum over layers of the unweighted lb loss)."""
    conf = {"type": "switch", "num_experts": 4, "z_loss_weight": 0.0}
    base_model = build({**conf, "load_balancing_weight": 0.0}, model_conf).eval()
    weighted_model = build({**conf, "load_balancing_weight": weight}, model_conf).eval()
    weighted_model.load_state_dict(base_model.state_dict())
    base_loss, stats, _ = base_model(**batch())
    with collect_routing() as records:  # the model's own collection reports here too
        loss, weighted_stats, _ = weighted_model(**batch())
    assert len(records) == 2 * TINY_CONFORMER["num_blocks"]
    with torch.no_grad():
        summed_lb = sum(float(r.auxiliary_losses()["load_balancing_loss"]) for r in records)
    return float(base_loss), float(loss), stats, weighted_stats, summed_lb


@pytest.mark.parametrize("ctc_weight", [1.0, 0.3])
def test_weighted_aux_loss_relates_to_the_per_token_task_loss_as_configured(ctc_weight):
    """Switch Transformer's weights multiply auxiliary losses added to a per-token mean
    task loss: (added aux loss) / (task loss) must equal
    (weight * sum over layers of lb) / (task loss per token)."""
    weight = 0.5
    model_conf = {"ctc_weight": ctc_weight, "length_normalized_loss": False}
    base_loss, loss, stats, weighted_stats, summed_lb = aux_loss_effect(model_conf, weight)
    # ESPnet's CTC and attention losses are sums over each utterance's tokens divided by
    # the batch size: per token, they are divided by the mean tokens per utterance.
    lengths = batch()["text_lengths"].float()
    per_token_task_loss = base_loss / float(lengths.mean())
    assert (loss - base_loss) / base_loss == pytest.approx(
        weight * summed_lb / per_token_task_loss, rel=1e-4
    )
    assert float(weighted_stats["moe_aux_loss"]) == pytest.approx(weight * summed_lb, rel=1e-5)
    assert float(weighted_stats["moe_load_balancing_loss"]) == pytest.approx(
        summed_lb / (2 * TINY_CONFORMER["num_blocks"]), rel=1e-5
    )
    assert summed_lb >= 2 * TINY_CONFORMER["num_blocks"]  # E * sum(f * P) >= 1 per layer


def test_length_normalized_attention_loss_gets_the_aux_loss_per_token():
    """With ``length_normalized_loss`` the attention loss is already a per-token mean and
    the CTC loss is not: each gets the auxiliary loss at its own per-token scale."""
    weight, ctc_weight = 0.5, 0.3
    model_conf = {"ctc_weight": ctc_weight, "length_normalized_loss": True}
    base_loss, loss, _, _, summed_lb = aux_loss_effect(model_conf, weight)
    tokens_per_utterance = float(batch()["text_lengths"].float().mean())
    expected = weight * summed_lb * (ctc_weight * tokens_per_utterance + (1 - ctc_weight))
    assert loss - base_loss == pytest.approx(expected, rel=1e-4)


def test_stats_report_losses_and_per_layer_routing():
    model = build({"type": "omni", "num_experts": 4, "blocks": [1]})
    loss, stats, weight = model(**batch())
    expected = {
        "moe_aux_loss",
        "moe_load_balancing_loss",
        "moe_z_loss",
        "moe_enc1_macaron_entropy",
        "moe_enc1_macaron_load_max",
        "moe_enc1_ffn_entropy",
        "moe_enc1_ffn_load_max",
    }
    assert expected <= set(stats)
    assert 0.25 <= float(stats["moe_enc1_ffn_load_max"]) <= 1.0
    assert float(stats["loss"]) == pytest.approx(float(loss.detach()))
    loss.backward()
    assert model.encoder.shared_router.linear.weight.grad.abs().sum() > 0


def test_dense_model_has_no_moe_stats():
    _, stats, _ = build({"type": "dense"})(**batch())
    assert not any(key.startswith("moe_") for key in stats)


@pytest.mark.parametrize("moe_type", ["dense", "switch", "omni"])
def test_strict_state_dict_round_trip_through_build_model_from_file(tmp_path, moe_type):
    args = build_args({"type": moe_type, "num_experts": 2})
    model = build({"type": moe_type, "num_experts": 2}).eval()
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(vars(args)))
    checkpoint = tmp_path / "model.pth"
    torch.save(model.state_dict(), checkpoint)
    loaded, _ = ASRTask.build_model_from_file(config, checkpoint, "cpu")
    loaded.eval()
    # ESPnet loads with strict=False: check the keys ourselves.
    assert list(loaded.state_dict()) == list(model.state_dict())
    loaded.load_state_dict(torch.load(checkpoint), strict=True)
    data = batch()
    expected = model.encode(data["speech"], data["speech_lengths"])[0]
    torch.testing.assert_close(loaded.encode(data["speech"], data["speech_lengths"])[0], expected)
