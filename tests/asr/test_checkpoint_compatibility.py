"""Checkpoints of release 0.1.0 load into today's models: every model type has the state
dict keys and shapes that release saved with the installed ESPnet
(``data/state_dict_shapes_0.1.0_espnet<version>.json``, recorded from 0.1.0's build of the
configs below: ESPnet's own modules name some keys differently from one ESPnet release to
the next), so ``load_state_dict(strict=True)`` of its checkpoints works, and a checkpoint
saved now loads back and gives the same output."""

import json
from pathlib import Path

import espnet
import pytest
import torch
from conftest import TINY_CONFORMER, TINY_DECODER
from espnet2.tasks.asr import ASRTask

RECORD = Path(__file__).parent / "data" / f"state_dict_shapes_0.1.0_espnet{espnet.__version__}.json"
RECORDED = json.loads(RECORD.read_text()) if RECORD.exists() else {}
MOE = {
    "dense": {"type": "dense"},
    "switch": {"type": "switch", "num_experts": 2},
    "omni": {"type": "omni", "num_experts": 2},
    "u2pp": {"type": "u2pp", "num_experts": 2},
}


def build(kind: str) -> torch.nn.Module:
    """A tiny model of ``kind``: dense/switch/omni (MoE Conformer + MoE decoder) or
    u2pp_<moe> (U2++ encoder + bidirectional decoder)."""
    args = ASRTask.get_parser().parse_args([])
    conf = dict(
        token_list=["<blank>", "<unk>", "a", "b", "<sos/eos>"],
        frontend_conf={"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": 8000},
    )
    if kind.startswith("u2pp_"):
        moe = MOE[kind[5:]]
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
            encoder_conf={**TINY_CONFORMER, "moe_conf": MOE[kind]},
            decoder="moe_transformer",
            decoder_conf={**TINY_DECODER, "moe_conf": MOE[kind]},
            model="moe_espnet",
            model_conf={"ctc_weight": 0.3},
        )
    vars(args).update(conf)
    torch.manual_seed(0)
    return ASRTask.build_model(args).eval()


def test_release_0_1_0_was_recorded_with_the_installed_espnet():
    assert RECORDED, f"no record of 0.1.0's state dicts with ESPnet {espnet.__version__}: {RECORD}"


@pytest.mark.parametrize("kind", sorted(RECORDED))
def test_state_dict_keys_and_shapes_are_those_of_0_1_0(kind):
    model = build(kind)
    shapes = {key: list(value.shape) for key, value in model.state_dict().items()}
    assert shapes == RECORDED[kind]
    checkpoint = {key: torch.randn(shape) for key, shape in RECORDED[kind].items()}
    model.load_state_dict(checkpoint, strict=True)


@pytest.mark.parametrize("kind", ["omni", "u2pp_u2pp"])
def test_a_checkpoint_saved_now_loads_back_with_the_same_output(tmp_path, kind):
    model = build(kind)
    torch.save(model.state_dict(), tmp_path / "model.pth")
    loaded = build(kind)
    for parameter in loaded.parameters():
        torch.nn.init.zeros_(parameter)
    loaded.load_state_dict(torch.load(tmp_path / "model.pth"), strict=True)
    speech, lengths = torch.randn(2, 3200), torch.tensor([3200, 2000])
    with torch.no_grad():
        expected, _ = model.encode(speech, lengths)
        actual, _ = loaded.encode(speech, lengths)
    assert torch.equal(actual, expected)
