"""Loss curves from ESPnet's training log (``exp/<model>/train.log``) and per-epoch
means from its checkpoint (``exp/<model>/checkpoint.pth``)."""

import datetime
import numbers
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple

import torch

EPOCH_LINE = re.compile(r"(\d+)epoch results: \[train\] (.*?), \[valid\] (.*)$")
ITERATION_LINE = re.compile(r"(\d+)epoch:train:(\d+)-(\d+)batch: (.*)$")
# ``name=number``, ended by ", ", the line's end or the next name: ESPnet's reporter drops
# the ", " before the statistic whose position equals the batch count of the log interval.
# Values that are not numbers (``time=1 minute and 41.54 seconds``) are skipped.
STATISTIC = re.compile(
    r"([A-Za-z_]\w*)=([-+]?(?:\d+(?:\.\d*)?(?:e[-+]?\d+)?|nan|inf))(?=, |$|[A-Za-z_])"
)


@dataclass
class TrainingCurves:
    """``train_steps``: (update, value) of the logged training loss every few updates;
    ``epochs``: per epoch the ``[train]`` and ``[valid]`` means, by statistic name."""

    train_steps: List[Tuple[int, float]]
    epochs: List[Dict[str, Dict[str, float]]]


def _statistics(text: str) -> Dict[str, float]:
    return {name: float(value) for name, value in STATISTIC.findall(text)}


def earlier_logs(path: Path) -> List[Path]:
    """The logs of the runs before ``path``'s (``train.log``) that a resumed training kept,
    oldest first: ``train.N.log`` ... ``train.1.log``, as ESPnet's launch and the recipes
    rotate them (``train.1.log`` the latest)."""
    stem = path.name[: -len(path.suffix)] if path.suffix else path.name
    numbered = {}
    for candidate in path.parent.glob(f"{stem}.*{path.suffix}"):
        number = candidate.name[len(stem) + 1 : len(candidate.name) - len(path.suffix)]
        if number.isdigit():
            numbered[int(number)] = candidate
    return [numbered[n] for n in sorted(numbered, reverse=True)]


def read_training_log(path: Path, statistic: str = "loss") -> TrainingCurves:
    """Parse ``path`` after the earlier runs' logs beside it (``earlier_logs``);
    ``statistic`` is the per-update value kept (e.g. ``loss_ctc``).

    Updates are counted across epochs with ESPnet's cumulative ``total_count``. A
    resumed run logs again from its resumed epoch; later lines replace earlier ones.
    """
    path = Path(path)
    steps: Dict[int, float] = {}
    epochs: Dict[int, Dict[str, Dict[str, float]]] = {}
    lines = [
        line
        for log in (*earlier_logs(path), path)
        for line in log.read_text(errors="replace").splitlines()
    ]
    for line in lines:
        if match := ITERATION_LINE.search(line):
            epoch, last = int(match[1]), int(match[3])
            before = epochs.get(epoch - 1, {}).get("train", {}).get("total_count", 0)
            value = _statistics(match[4]).get(statistic)
            if value is not None:
                steps[int(before) + last] = value
        elif match := EPOCH_LINE.search(line):
            epochs[int(match[1])] = {"train": _statistics(match[2]), "valid": _statistics(match[3])}
    return TrainingCurves(sorted(steps.items()), [epochs[e] for e in sorted(epochs)])


def read_checkpoint_epochs(path: Path) -> List[Dict[str, Dict[str, float]]]:
    """Per epoch the ``[train]`` and ``[valid]`` means that ESPnet's reporter keeps in
    ``checkpoint.pth``: every epoch, also those of earlier runs that a resumed one
    continued (a log written anew by each run has only its own), with ``time`` in seconds."""
    # mmap: the model and optimizer tensors beside the reporter are not read
    reporter = torch.load(path, map_location="cpu", weights_only=False, mmap=True)["reporter"]
    epochs = []
    for epoch in sorted(reporter["stats"]):
        phases: Dict[str, Dict[str, float]] = {}
        for phase in ("train", "valid"):
            phases[phase] = {}
            for name, value in reporter["stats"][epoch].get(phase, {}).items():
                if isinstance(value, datetime.timedelta):
                    value = value.total_seconds()
                if isinstance(value, numbers.Real):
                    phases[phase][name] = float(value)
        epochs.append(phases)
    return epochs
