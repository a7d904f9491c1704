"""A training run SIGKILLed at an epoch boundary and mid-epoch, resumed with
``--resume true``, ends with exactly the model and optimizer state of an uninterrupted run."""

import subprocess
import sys
from pathlib import Path

import pytest
import tiny_asr
import torch

from espnet_omnirouter.analysis.training_log import read_checkpoint_epochs
from espnet_omnirouter.train.checkpoints import atomic_torch_save, torch_save_atomically

KILLER = Path(__file__).with_name("kill_at_forward.py")
UPDATES = {"max_epoch": 3}  # 10 utterances, batch 5: 2 training steps per epoch


def train_killed_at(workdir: Path, exp: Path, forward: int) -> None:
    args = tiny_asr.train_args(workdir, "omni", exp, "--resume", "true", updates=UPDATES)
    result = subprocess.run(
        [sys.executable, str(KILLER), str(forward), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
    )
    assert result.returncode == -9, result.stderr[-3000:]  # killed, not failed


def assert_same_state(a: dict, b: dict, where: str = "") -> None:
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            assert_same_state(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for index, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{where}[{index}]")
    else:
        assert a == b, where


@pytest.mark.e2e
def test_killed_and_resumed_run_equals_an_uninterrupted_one(tiny_workdir):
    workdir = tiny_workdir
    reference, resumed = workdir / "exp" / "uninterrupted", workdir / "exp" / "resumed"
    tiny_asr.train(workdir, "omni", reference, updates=UPDATES)
    # Forward 3 = first step of epoch 2: epoch 1 is complete and checkpointed.
    train_killed_at(workdir, resumed, forward=3)
    epoch_one = torch.load(resumed / "checkpoint.pth", weights_only=False)
    assert epoch_one["reporter"]["epoch"] == 1 and not (resumed / "2epoch.pth").exists()
    # Resumed at epoch 2, killed again at its second step (the first one is lost).
    train_killed_at(workdir, resumed, forward=2)
    log = tiny_asr.train(workdir, "omni", resumed, "--resume", "true", updates=UPDATES)
    assert "The training was resumed using" in log
    final, expected = (
        torch.load(exp / "checkpoint.pth", weights_only=False) for exp in (resumed, reference)
    )
    assert final["reporter"]["epoch"] == 3
    assert_same_state(final["model"], expected["model"], "model")
    assert_same_state(final["optimizers"], expected["optimizers"], "optimizers")
    assert_same_state(
        torch.load(resumed / "valid.loss.ave.pth"), torch.load(reference / "valid.loss.ave.pth")
    )
    # The checkpoint's reporter has every epoch of the three runs, with their seconds.
    epochs, reference_epochs = (
        read_checkpoint_epochs(exp / "checkpoint.pth") for exp in (resumed, reference)
    )
    assert len(epochs) == 3 and all(epoch["train"]["time"] > 0 for epoch in epochs)
    losses, reference_losses = (
        [epoch[phase]["loss"] for epoch in run for phase in ("train", "valid")]
        for run in (epochs, reference_epochs)
    )
    assert losses == pytest.approx(reference_losses)


class Unpicklable:
    def __reduce__(self):
        raise RuntimeError("cannot pickle this")


def test_a_failed_save_leaves_the_previous_checkpoint_intact(tmp_path):
    path = tmp_path / "checkpoint.pth"
    torch_save_atomically({"epoch": 1, "w": torch.ones(3)}, path)
    with pytest.raises(RuntimeError, match="cannot pickle"):
        torch_save_atomically({"epoch": 2, "w": torch.zeros(3), "bad": Unpicklable()}, path)
    assert torch.load(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pth"]


def test_atomic_saving_is_scoped_to_the_block(tmp_path):
    plain_save = torch.save
    with atomic_torch_save():
        assert torch.save is torch_save_atomically
        torch.save(torch.arange(3), tmp_path / "a.pth")
        torch.save(torch.arange(3), str(tmp_path / "b.pth"))
    assert torch.save is plain_save
    assert torch.equal(torch.load(tmp_path / "a.pth"), torch.load(tmp_path / "b.pth"))
