"""Tiny untrained experiments of every model type, for the export and runtime tests."""

from pathlib import Path

import torch
import yaml
from conftest import TINY_CONFORMER, TINY_DECODER, make_experiment

from espnet_omnirouter.asr.decoding.speech2text import load_speech2text

MODEL_TYPES = ["dense", "switch", "omni", "u2pp_moe", "u2pp_dense"]


# Options the U2++ exports must carry: a positional table shorter than the test inputs (the
# graphs compute positions past it), intermediate CTC (MoE) and conv2d6 subsampling (dense).
U2PP_OPTIONS = {
    "u2pp": {"max_pos_emb_len": 16, "interctc_layer_idx": [1]},
    "dense": {"max_pos_emb_len": 16, "input_layer": "conv2d6"},
}


def make_u2pp_experiment(root: Path, moe_type: str) -> Path:
    """``make_experiment``'s model as an untrained U2++ (causal chunk Conformer, CTC and
    left-to-right + right-to-left MoE or dense decoders, ``U2PP_OPTIONS``):
    <root>/exp/asr_u2pp_<moe_type>."""
    ctc_exp = make_experiment(root / "base", "dense")
    config = yaml.safe_load((ctc_exp / "config.yaml").read_text())
    moe_conf = {"type": moe_type, "num_experts": 4}
    config.update(
        encoder="u2pp_conformer",
        encoder_conf={
            **TINY_CONFORMER,
            "rel_pos_type": "legacy",
            "cnn_module_kernel": 5,
            **U2PP_OPTIONS[moe_type],
            "moe_conf": moe_conf,
        },
        decoder="bi_transformer",
        decoder_conf={**TINY_DECODER, "num_blocks": 1, "r_num_blocks": 1, "moe_conf": moe_conf},
        model="u2pp",
        model_conf={"ctc_weight": 0.3, "reverse_weight": 0.3, "interctc_weight": 0.3},
    )
    exp = root / "exp" / f"asr_u2pp_{moe_type}"
    exp.mkdir(parents=True)
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    from espnet2.tasks.asr import ASRTask

    torch.manual_seed(0)
    args = ASRTask.get_parser().parse_args([])
    vars(args).update(config)
    torch.save(ASRTask.build_model(args).state_dict(), exp / "valid.loss.ave.pth")
    return exp


def make_model_dir(root: Path, model_type: str) -> Path:
    """An untrained tiny experiment dir of ``model_type`` (one of ``MODEL_TYPES``)."""
    if model_type.startswith("u2pp_"):
        return make_u2pp_experiment(root, "u2pp" if model_type == "u2pp_moe" else "dense")
    return make_experiment(root, model_type)


def load(exp: Path):
    """ESPnet's ``Speech2Text`` of an experiment dir, in eval mode."""
    speech2text = load_speech2text(exp / "config.yaml", exp / "valid.loss.ave.pth", beam_size=1)
    speech2text.asr_model.eval()
    return speech2text
