"""One line per training epoch for the console: losses, accuracy / CER, time left."""

import math
import time
from dataclasses import dataclass, field
from typing import Mapping, Optional

PREFIX = "[train]"


def format_seconds(seconds: float) -> str:
    """``75`` -> ``1m15s``, ``3725`` -> ``1h02m``."""
    seconds = max(0, round(seconds))
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def summarize(stats: Mapping[str, float]) -> str:
    """``loss 45.21, acc 61.2%, CER 21.0%`` from one side's epoch statistics (ESPnet's keys:
    ``loss``, ``acc`` of the attention decoder, ``cer`` or the CTC branch's ``cer_ctc``);
    keys a model does not report are left out, non-finite values print as ``nan``."""
    parts = []
    if "loss" in stats:
        parts.append(f"loss {stats['loss']:.2f}")
    if "acc" in stats and math.isfinite(stats["acc"]):
        parts.append(f"acc {100 * stats['acc']:.1f}%")
    cer = next((stats[key] for key in ("cer", "cer_ctc") if key in stats), None)
    if cer is not None and math.isfinite(cer):
        parts.append(f"CER {100 * cer:.1f}%")
    return ", ".join(parts) or "no statistics"


@dataclass
class EpochProgress:
    """Builds the per-epoch line ``[train] epoch 3/20: train loss ..; valid loss ..;
    1m40s elapsed, about 9m20s left``. The estimate is this process's mean epoch time
    (training plus validation) times the epochs left; a resumed run counts from the
    epoch it resumed at."""

    max_epoch: int
    start: float = field(init=False)
    first_epoch: Optional[int] = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.start = time.perf_counter()

    def line(self, epoch: int, train: Mapping[str, float], valid: Mapping[str, float]) -> str:
        if self.first_epoch is None:
            self.first_epoch = epoch
        elapsed = time.perf_counter() - self.start
        per_epoch = elapsed / (epoch - self.first_epoch + 1)
        remaining = self.max_epoch - epoch
        left = f"about {format_seconds(per_epoch * remaining)} left" if remaining else "done"
        return (
            f"{PREFIX} epoch {epoch}/{self.max_epoch}: train {summarize(train)}; "
            f"valid {summarize(valid)}; {format_seconds(elapsed)} elapsed, {left}"
        )
