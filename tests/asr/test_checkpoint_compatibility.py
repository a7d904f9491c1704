"""Checkpoints of release 0.1.0 load into today's models: every model type has the state
dict keys and shapes that release saved with the installed ESPnet
(``data/state_dict_shapes_0.1.0_espnet<version>.json``, recorded from 0.1.0's build of the
configs of ``conftest.build_tiny_model``: ESPnet's own modules name some keys differently
from one ESPnet release to the next), so ``load_state_dict(strict=True)`` of its
checkpoints works, and a checkpoint saved now loads back and gives the same output."""

import json
from pathlib import Path

import espnet
import pytest
import torch
from conftest import build_tiny_model as build

RECORD = Path(__file__).parent / "data" / f"state_dict_shapes_0.1.0_espnet{espnet.__version__}.json"
RECORDED = json.loads(RECORD.read_text()) if RECORD.exists() else {}


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
