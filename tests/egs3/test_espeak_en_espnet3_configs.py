"""egs3/espeak_en/asr1's training configs: the ESPnet2 recipe's models and optimisation, and
dense / switch / omni (and the two U2++) differing only in their MoE settings (skipped
without ESPnet3, whose loader composes them)."""

from pathlib import Path

import pytest
import yaml

# ESPnet3's package, not tests/espnet3 (tests/ is on sys.path).
pytest.importorskip("espnet3.systems")

from espnet3.utils.config_utils import load_and_merge_config  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
MODELS = ["dense", "switch", "omni", "u2pp_dense", "u2pp_moe"]
MODEL_KEYS = [
    "frontend", "frontend_conf", "specaug", "encoder", "encoder_conf", "decoder",
    "decoder_conf", "model", "model_conf",
]  # fmt: skip


def espnet3_config(model: str, exp_tag: str = "") -> dict:
    """conf/training_<model>.yaml as ESPnet3's run.py loads it (TEMPLATE defaults merged),
    with ``exp_tag`` (default: the file's name) naming the experiment."""
    config = load_and_merge_config(
        ROOT / "egs3" / "espeak_en" / "asr1" / "conf" / f"training_{model}.yaml",
        "training.yaml",
        "egs3.TEMPLATE.esp2_asr",
        resolve=False,
    )
    if exp_tag:
        config.exp_tag = exp_tag
    return OmegaConf.to_container(config, resolve=True)


def espnet2_config(model: str) -> dict:
    return yaml.safe_load((ROOT / "conf" / f"train_{model}.yaml").read_text())


def flatten(tree: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict) and value:
            flat.update(flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@pytest.mark.parametrize("model", MODELS)
def test_the_espnet2_recipe_s_model_and_optimisation(model):
    ours, theirs = espnet3_config(model), espnet2_config(model)
    assert {key: ours["model"].get(key) for key in MODEL_KEYS} == {
        key: theirs.get(key) for key in MODEL_KEYS
    }
    # ESPnet2's recipes (and asr.sh) give the normalisation at training; ESPnet3's config has it
    assert "normalize" not in theirs and ours["model"]["normalize"] == "global_mvn"
    assert ours["task"] == "espnet_omnirouter.espnet3.task.ASRTask"
    assert ours["optimizer"]["_target_"] == "torch.optim.Adam" and theirs["optim"] == "adam"
    assert {k: ours["optimizer"][k] for k in ("lr", "weight_decay")} == theirs["optim_conf"]
    assert ours["scheduler"]["_target_"] == "espnet2.schedulers.warmup_lr.WarmupLR"
    assert theirs["scheduler"] == "warmuplr" and ours["scheduler_interval"] == "step"
    assert ours["scheduler"]["warmup_steps"] == theirs["scheduler_conf"]["warmup_steps"]
    batches = ours["dataloader"]["train"]["iter_factory"]["batches"]
    assert (batches["type"], batches["batch_size"]) == (theirs["batch_type"], theirs["batch_size"])
    assert ours["trainer"]["max_epochs"] == theirs["max_epoch"]
    assert ours["trainer"]["gradient_clip_val"] == theirs["grad_clip"]
    assert ours["trainer"].get("accumulate_grad_batches", 1) == theirs.get("accum_grad", 1)
    assert ours["best_model_criterion"] == [
        ["/".join(theirs["best_model_criterion"][0][:2]), theirs["keep_nbest_models"], "min"]
    ]
    assert ours["tokenizer"]["vocab_size"] == 50 and ours["tokenizer"]["model_type"] == "unigram"


@pytest.mark.parametrize(
    "model, baseline, allowed",
    [
        ("switch", "dense", ["model.encoder_conf.moe_conf."]),
        ("omni", "dense", ["model.encoder_conf.moe_conf."]),
        (
            "u2pp_moe",
            "u2pp_dense",
            [
                "model.encoder_conf.moe_conf.",
                "model.decoder_conf.moe_conf.",
                "model.encoder_conf.linear_units",  # expert size: top-2 of 288 = dense 576
                "model.decoder_conf.linear_units",
            ],
        ),
    ],
)
def test_configs_differ_only_in_their_moe_settings(model, baseline, allowed):
    # one experiment name for both: the paths derived from it (exp_dir, the loggers') agree
    ours, base = (flatten(espnet3_config(name, exp_tag="asr")) for name in (model, baseline))
    different = {key for key in ours.keys() | base.keys() if ours.get(key) != base.get(key)}
    assert different and all(key.startswith(tuple(allowed)) for key in different), different
