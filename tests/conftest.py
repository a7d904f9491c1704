"""Shared test set-up: tiny ESPnet configurations and an untrained tiny experiment."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import espnet_omnirouter  # noqa: F401  (registers the plugin, as every user process does)

TINY_CONFORMER = dict(
    output_size=16,
    attention_heads=2,
    linear_units=24,
    num_blocks=3,
    dropout_rate=0.0,
    positional_dropout_rate=0.0,
    attention_dropout_rate=0.0,
    input_layer="conv2d",
    macaron_style=True,
    rel_pos_type="latest",
    pos_enc_layer_type="rel_pos",
    selfattention_layer_type="rel_selfattn",
    activation_type="swish",
    use_cnn_module=True,
    cnn_module_kernel=3,
)

# What shrinks a recipe config's Conformer encoder to about TINY_CONFORMER's size, for tiny runs
# of a recipe (an epoch takes seconds instead of a minute): encoder_conf keys, and the same as
# asr_train options.
TINY_RECIPE_ENCODER = dict(
    output_size=16, attention_heads=2, linear_units=24, num_blocks=2, cnn_module_kernel=3
)
TINY_RECIPE_ENCODER_ARGS = " ".join(
    f"--encoder_conf {key}={value}" for key, value in TINY_RECIPE_ENCODER.items()
)

TINY_DECODER = dict(
    attention_heads=2,
    linear_units=24,
    num_blocks=2,
    dropout_rate=0.0,
    positional_dropout_rate=0.0,
    self_attention_dropout_rate=0.0,
    src_attention_dropout_rate=0.0,
)

N_MELS = 20


TINY_MOE = {
    "dense": {"type": "dense"},
    "switch": {"type": "switch", "num_experts": 2},
    "omni": {"type": "omni", "num_experts": 2},
    "u2pp": {"type": "u2pp", "num_experts": 2},
}


def build_tiny_model(kind: str) -> torch.nn.Module:
    """A tiny model of ``kind``: dense/switch/omni (MoE Conformer + MoE decoder) or
    u2pp_<moe> (U2++ encoder + bidirectional decoder)."""
    from espnet2.tasks.asr import ASRTask

    args = ASRTask.get_parser().parse_args([])
    conf = dict(
        token_list=["<blank>", "<unk>", "a", "b", "<sos/eos>"],
        frontend_conf={"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": 8000},
    )
    if kind.startswith("u2pp_"):
        moe = TINY_MOE[kind[5:]]
        conf.update(
            encoder="u2pp_conformer",
            encoder_conf={**TINY_CONFORMER, "rel_pos_type": "legacy", "moe_conf": moe},
            decoder="bi_transformer",
            decoder_conf={**TINY_DECODER, "num_blocks": 1, "r_num_blocks": 1, "moe_conf": moe},
            model="u2pp",
            model_conf={"ctc_weight": 0.3, "reverse_weight": 0.3},
        )
    else:
        conf.update(
            encoder="moe_conformer",
            encoder_conf={**TINY_CONFORMER, "moe_conf": TINY_MOE[kind]},
            decoder="moe_transformer",
            decoder_conf={**TINY_DECODER, "moe_conf": TINY_MOE[kind]},
            model="moe_espnet",
            model_conf={"ctc_weight": 0.3},
        )
    vars(args).update(conf)
    torch.manual_seed(0)
    return ASRTask.build_model(args).eval()


def make_experiment(root: Path, moe_type: str = "omni") -> Path:
    """An untrained tiny CTC model (2 experts) as training leaves it:
    <root>/exp/asr_<moe_type>/{config.yaml, valid.loss.ave.pth}, and
    <root>/stats/feats_stats.npz (an absolute path in the config)."""
    from espnet2.tasks.asr import ASRTask

    stats = root / "stats" / "feats_stats.npz"
    stats.parent.mkdir(parents=True, exist_ok=True)
    np.savez(stats, count=np.array(10), sum=np.zeros(N_MELS), sum_square=np.full(N_MELS, 10.0))
    args = ASRTask.get_parser().parse_args([])
    vars(args).update(
        frontend_conf={"n_fft": 128, "hop_length": 64, "n_mels": N_MELS, "fs": 8000},
        encoder="moe_conformer",
        encoder_conf={**TINY_CONFORMER, "moe_conf": {"type": moe_type, "num_experts": 2}},
        model="moe_espnet",
        model_conf={"ctc_weight": 1.0},
        token_list=["<blank>", "<unk>", "a", "b", "<sos/eos>"],
        token_type="char",
        normalize="global_mvn",
        normalize_conf={"stats_file": str(stats)},
    )
    torch.manual_seed(0)
    model = ASRTask.build_model(args)
    exp = root / "exp" / f"asr_{moe_type}"
    exp.mkdir(parents=True)
    (exp / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), exp / "valid.loss.ave.pth")
    return exp


@pytest.fixture
def experiment(tmp_path) -> Path:
    """An untrained tiny omni model's experiment dir (see ``make_experiment``)."""
    return make_experiment(tmp_path)


@pytest.fixture(scope="module")
def tiny_workdir(tmp_path_factory) -> Path:
    """Tiny tone data, tokens, base config and feature statistics, shared by a module's
    trainings (``tiny_asr.make_workdir``)."""
    import tiny_asr

    return tiny_asr.make_workdir(tmp_path_factory.mktemp("workdir"))


@pytest.fixture(scope="session")
def user_environment():
    """The plugin installed from its wheel into a fresh venv, used by a non-root user where
    one can be arranged (``user_environment.make_user_environment``)."""
    import shutil

    from user_environment import make_user_environment

    environment = make_user_environment()
    yield environment
    shutil.rmtree(environment.work, ignore_errors=True)
