"""The LibriSpeech recipe's model configs (egs/librispeech/asr1/conf), built on the meta
device: stated parameter counts, matched active parameters, what differs between them."""

import re
from pathlib import Path

import pytest
import torch
import yaml

from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.parameter_count import count_parameters, format_count
from espnet_omnirouter.utils.model_config import build_model_from_config

CONF = Path(__file__).resolve().parents[1] / "egs" / "librispeech" / "asr1" / "conf"
MODELS = ("dense", "switch", "omni", "u2pp_dense", "u2pp_moe")
VOCAB_SIZES = {"960": 5000, "100": 300}  # the recipe's --nbpe default per --train_set


def load(model: str) -> dict:
    return yaml.safe_load((CONF / f"train_{model}.yaml").read_text())


def build(model: str, vocab_size: int) -> torch.nn.Module:
    with torch.device("meta"):  # no memory for the ~450M-parameter MoE models
        return build_model_from_config(CONF / f"train_{model}.yaml", vocab_size, None)


@pytest.mark.parametrize("train_set", VOCAB_SIZES)
@pytest.mark.parametrize("model", MODELS)
def test_parameter_comments_match_the_models(model, train_set):
    vocab_size = VOCAB_SIZES[train_set]
    stated = re.search(
        rf"\({vocab_size}-token vocabulary, --train_set {train_set}\): "
        r"total (\S+), active (\S+) per frame",
        (CONF / f"train_{model}.yaml").read_text(),
    ).groups()
    count = count_parameters(build(model, vocab_size))
    assert stated == (format_count(count.total), format_count(count.active))


def test_dense_switch_omni_differ_only_in_moe_conf_and_match_active_parameters():
    configs = {model: load(model) for model in ("dense", "switch", "omni")}
    assert {m: c["encoder_conf"].pop("moe_conf")["type"] for m, c in configs.items()} == {
        "dense": "dense",
        "switch": "switch",
        "omni": "omni",
    }
    assert configs["switch"] == configs["dense"] == configs["omni"]
    counts = {model: count_parameters(build(model, 5000)) for model in configs}
    assert 80e6 < counts["dense"].total < 110e6  # the paper's dense encoder + a 3-block decoder
    for moe_type in ("switch", "omni"):
        assert counts[moe_type].total > 4 * counts["dense"].total
        assert abs(counts[moe_type].active - counts["dense"].active) < 0.01 * counts["dense"].active
    layers = [m for m in build("omni", 5000).modules() if isinstance(m, MoEFeedForward)]
    assert len(layers) == 2 * 12 and all((m.num_experts, m.top_k) == (8, 1) for m in layers)


def test_u2pp_configs_differ_in_moe_conf_and_ffn_size_and_match_active_parameters():
    moe, dense = load("u2pp_moe"), load("u2pp_dense")
    for config in (moe, dense):
        for part in ("encoder_conf", "decoder_conf"):
            config[part].pop("moe_conf")
            config[part].pop("linear_units")
    assert (
        moe == dense and moe["encoder"] == "u2pp_conformer" and moe["decoder"] == "bi_transformer"
    )
    counts = {model: count_parameters(build(model, 5000)) for model in ("u2pp_moe", "u2pp_dense")}
    assert counts["u2pp_moe"].total > 2 * counts["u2pp_dense"].total
    assert (
        abs(counts["u2pp_moe"].active - counts["u2pp_dense"].active)
        < 0.01 * counts["u2pp_dense"].active
    )
    layers = [m for m in build("u2pp_moe", 5000).modules() if isinstance(m, MoEFeedForward)]
    assert len(layers) == 2 * 12 + 3 + 3  # every encoder and decoder FFN
    assert all((m.num_experts, m.top_k) == (8, 2) for m in layers)


def test_the_smoke_run_config_is_tiny():
    count = count_parameters(build_model_from_config(CONF / "tuning" / "train_tiny.yaml", 40))
    assert count.total < 200_000
