"""The plugin's task builds every model of the ESPnet3 recipe from its config alone, through
ESPnet3's own model bridge (skipped without ESPnet3)."""

from pathlib import Path

import pytest
import torch

# ESPnet3's package, not this directory (tests/ is on sys.path, and without ESPnet3
# installed "espnet3" would name tests/espnet3 as a namespace package).
pytest.importorskip("espnet3.systems")

from espnet3.utils.config_utils import load_and_merge_config  # noqa: E402
from espnet3.utils.task_utils import get_espnet_model  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from espnet_omnirouter.asr.decoder.bi_transformer_decoder import BiTransformerDecoder  # noqa: E402
from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder  # noqa: E402
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder  # noqa: E402
from espnet_omnirouter.asr.espnet_model import MoEESPnetASRModel  # noqa: E402
from espnet_omnirouter.asr.u2pp_model import U2ppASRModel  # noqa: E402
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward  # noqa: E402
from espnet_omnirouter.layers.moe.router import Router  # noqa: E402

CONF = Path(__file__).resolve().parents[2] / "egs3" / "espeak_en" / "asr1" / "conf"
TASK = "espnet_omnirouter.espnet3.task.ASRTask"
TOKENS = ["<blank>", "<unk>", *"abcdefgh", "<sos/eos>"]


def model_block(name: str) -> dict:
    """The ``model:`` block of the recipe's conf/training_<name>.yaml, as ESPnet3 loads it,
    with a token list instead of the tokenizer's file and no feature statistics."""
    config = load_and_merge_config(
        CONF / f"training_{name}.yaml", "training.yaml", "egs3.TEMPLATE.esp2_asr"
    )
    block = OmegaConf.to_container(config.model, resolve=True)
    return {**block, "token_list": TOKENS, "normalize": None}


@pytest.mark.parametrize(
    "name, model_class, encoder_class, moe_layers, shared_router",
    [
        ("dense", MoEESPnetASRModel, MoEConformerEncoder, 0, False),
        ("switch", MoEESPnetASRModel, MoEConformerEncoder, 12, False),
        ("omni", MoEESPnetASRModel, MoEConformerEncoder, 12, True),
        ("u2pp_dense", U2ppASRModel, U2ppConformerEncoder, 0, False),
        ("u2pp_moe", U2ppASRModel, U2ppConformerEncoder, 16, False),
    ],
)
def test_every_recipe_model_builds_and_trains(
    name, model_class, encoder_class, moe_layers, shared_router
):
    torch.manual_seed(0)
    model = get_espnet_model(TASK, model_block(name))
    assert type(model) is model_class and type(model.encoder) is encoder_class
    layers = [m for m in model.modules() if isinstance(m, MoEFeedForward)]
    assert len(layers) == moe_layers
    assert (getattr(model.encoder, "shared_router", None) is not None) == shared_router
    if name.startswith("u2pp"):
        assert isinstance(model.decoder, BiTransformerDecoder)
    speech = 0.1 * torch.randn(2, 16000)
    text = torch.tensor([[2, 3, 4], [5, 6, -1]])
    loss, stats, _ = model(speech, torch.tensor([16000, 12000]), text, torch.tensor([3, 2]))
    loss.backward()
    assert torch.isfinite(loss)
    if layers:  # the routers learn from the loss
        routers = [m for m in model.modules() if isinstance(m, Router)]
        assert all(p.grad is not None for router in routers for p in router.parameters())
    if name in ("switch", "omni"):  # the auxiliary losses and routing statistics are reported
        assert {"moe_aux_loss", "moe_load_balancing_loss", "moe_enc0_macaron_entropy"} <= set(stats)


def test_espnet3_s_own_task_is_left_as_it_is():
    """The plugin registers into ESPnet2's task only: ESPnet3's copy keeps its choices."""
    with pytest.raises(ValueError, match="--encoder must be one of"):
        get_espnet_model("espnet3.systems.esp2_asr.task.ASRTask", model_block("omni"))


def test_importing_the_plugin_imports_no_espnet3():
    """``import espnet_omnirouter`` registers into ESPnet2 and leaves ESPnet3 alone."""
    import subprocess
    import sys

    code = (
        "import sys, espnet_omnirouter\n"
        "from espnet2.tasks.asr import encoder_choices\n"
        "assert 'moe_conformer' in encoder_choices.classes\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'espnet3'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "[]"
