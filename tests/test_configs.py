"""The shipped model configs: dense, switch and omni differ only in moe_conf."""

import re
from pathlib import Path

import pytest
import yaml

from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.parameter_count import count_parameters, format_count
from espnet_omnirouter.utils.model_config import build_model_from_config

CONF_ROOT = Path(__file__).resolve().parents[1] / "conf"
CONF_DIRS = [CONF_ROOT, CONF_ROOT / "large"]
MODEL_TYPES = ("dense", "switch", "omni")


def without_moe_conf(config: dict) -> dict:
    config = yaml.safe_load(yaml.safe_dump(config))
    del config["encoder_conf"]["moe_conf"]
    return config


@pytest.mark.parametrize("conf_dir", CONF_DIRS, ids=["cpu", "large"])
def test_configs_differ_only_in_moe_conf(conf_dir):
    configs = {m: yaml.safe_load((conf_dir / f"train_{m}.yaml").read_text()) for m in MODEL_TYPES}
    assert {m: c["encoder_conf"]["moe_conf"]["type"] for m, c in configs.items()} == {
        m: m for m in MODEL_TYPES
    }
    reference = without_moe_conf(configs["dense"])
    for moe_type in ("switch", "omni"):
        assert without_moe_conf(configs[moe_type]) == reference, moe_type


@pytest.mark.parametrize("conf_dir", CONF_DIRS, ids=["cpu", "large"])
@pytest.mark.parametrize("moe_type", MODEL_TYPES)
def test_parameter_comment_matches_the_model(conf_dir, moe_type):
    path = conf_dir / f"train_{moe_type}.yaml"
    stated = re.search(r"total (\S+), active (\S+) per frame", path.read_text()).groups()
    count = count_parameters(build_model_from_config(path, vocab_size=50, input_size=None))
    assert stated == (format_count(count.total), format_count(count.active))


@pytest.mark.parametrize("conf_dir", CONF_DIRS, ids=["cpu", "large"])
def test_moe_models_match_dense_active_parameters(conf_dir):
    counts = {
        m: count_parameters(build_model_from_config(conf_dir / f"train_{m}.yaml", 50, None))
        for m in MODEL_TYPES
    }
    for moe_type in ("switch", "omni"):
        assert counts[moe_type].total > 2 * counts["dense"].total
        assert abs(counts[moe_type].active - counts["dense"].active) < 0.01 * counts["dense"].active


def test_u2pp_configs_differ_in_moe_conf_and_ffn_size_and_match_active_parameters():
    moe, dense = (
        yaml.safe_load((CONF_ROOT / f"train_u2pp_{m}.yaml").read_text()) for m in ("moe", "dense")
    )
    for config in (moe, dense):
        for part in ("encoder_conf", "decoder_conf"):
            config[part].pop("moe_conf")
            config[part].pop("linear_units")
    assert moe == dense
    counts = {
        m: count_parameters(build_model_from_config(CONF_ROOT / f"train_u2pp_{m}.yaml"))
        for m in ("moe", "dense")
    }
    assert counts["moe"].total > 2 * counts["dense"].total
    assert abs(counts["moe"].active - counts["dense"].active) < 0.01 * counts["dense"].active
    model = build_model_from_config(CONF_ROOT / "train_u2pp_moe.yaml")
    moe_layers = [m for m in model.modules() if isinstance(m, MoEFeedForward)]
    blocks = yaml.safe_load((CONF_ROOT / "train_u2pp_moe.yaml").read_text())
    encoder_ffns = 2 * blocks["encoder_conf"]["num_blocks"]
    decoder_ffns = blocks["decoder_conf"]["num_blocks"] + blocks["decoder_conf"]["r_num_blocks"]
    assert len(moe_layers) == encoder_ffns + decoder_ffns  # every FFN is an MoE layer
    assert all((m.num_experts, m.top_k) == (8, 2) for m in moe_layers)


@pytest.mark.parametrize("model_type", ["u2pp_dense", "u2pp_moe"])
def test_u2pp_parameter_comment_matches_the_model(model_type):
    path = CONF_ROOT / f"train_{model_type}.yaml"
    stated = re.search(r"total (\S+), active (\S+) per frame", path.read_text()).groups()
    count = count_parameters(build_model_from_config(path))
    assert stated == (format_count(count.total), format_count(count.active))
