"""ESPnet's ``Trainer`` made crash-safe and reporting each epoch on one line; the task class
of ``bin/asr_train`` (``train/task.py``) trains with it."""

import logging
from typing import Optional

from espnet2.train.reporter import SubReporter, aggregate
from espnet2.train.trainer import Trainer

from espnet_omnirouter.train.checkpoints import atomic_torch_save
from espnet_omnirouter.train.non_finite import (
    counting_skipped_steps,
    finite_batchnorm_statistics,
)
from espnet_omnirouter.train.progress import EpochProgress

logger = logging.getLogger(__name__)


def epoch_statistics(reporter: SubReporter) -> dict:
    """The epoch means of what a sub-reporter collected (what ESPnet's reporter logs)."""
    return {key: float(aggregate(values)) for key, values in reporter.stats.items()}


class CrashSafeTrainer(Trainer):
    """ESPnet's ``Trainer`` with these additions around its own loop:

    - checkpoints (``checkpoint.pth``, ``<N>epoch.pth``, averaged models) are written
      atomically, so a run killed at any moment resumes (``--resume true``) from the
      last complete epoch and never finds a truncated file;
    - a batch with a non-finite loss or gradient (whose optimizer step ESPnet skips)
      cannot leave non-finite BatchNorm running statistics behind;
    - skipped steps are counted in the log, per epoch;
    - after each epoch's validation, rank 0 prints one line to stdout (``train/progress.py``):
      epoch k/N, training and validation loss, accuracy / CER, elapsed time and an estimate
      of the time left. Recipes follow it from the training log.

    ESPnet calls these as class methods and never instantiates a trainer, so the epoch's
    progress state lives on the class for the one training run of the process.
    """

    _progress: Optional[EpochProgress] = None
    _train_reporter: Optional[SubReporter] = None

    @classmethod
    def run(cls, model, **kwargs) -> None:
        cls._progress = EpochProgress(max_epoch=kwargs["trainer_options"].max_epoch)
        with atomic_torch_save(), finite_batchnorm_statistics(model):
            super().run(model=model, **kwargs)

    @classmethod
    def train_one_epoch(cls, **kwargs) -> bool:
        cls._train_reporter = kwargs.get("reporter")
        with counting_skipped_steps() as skipped:
            all_steps_are_invalid = super().train_one_epoch(**kwargs)
        if skipped.count:
            epoch = getattr(kwargs.get("reporter"), "epoch", "?")
            logger.warning(
                "epoch %s: %d optimizer step(s) skipped for a non-finite loss or gradient",
                epoch,
                skipped.count,
            )
        return all_steps_are_invalid

    @classmethod
    def validate_one_epoch(cls, **kwargs) -> None:
        super().validate_one_epoch(**kwargs)
        reporter, distributed = kwargs["reporter"], kwargs["distributed_option"]
        if cls._progress is None or cls._train_reporter is None:
            return  # not inside run() (a caller of the epoch methods alone)
        if distributed.distributed and distributed.dist_rank != 0:
            return
        line = cls._progress.line(
            reporter.epoch, epoch_statistics(cls._train_reporter), epoch_statistics(reporter)
        )
        print(line, flush=True)
