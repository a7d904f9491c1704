"""ESPnet's ``Trainer`` made crash-safe; ``bin/asr_train`` sets it as ``ASRTask.trainer``."""

import logging

from espnet2.train.trainer import Trainer

from espnet_omnirouter.train.checkpoints import atomic_torch_save
from espnet_omnirouter.train.non_finite import (
    counting_skipped_steps,
    finite_batchnorm_statistics,
)

logger = logging.getLogger(__name__)


class CrashSafeTrainer(Trainer):
    """ESPnet's ``Trainer`` with three guarantees added around its own loop:

    - checkpoints (``checkpoint.pth``, ``<N>epoch.pth``, averaged models) are written
      atomically, so a run killed at any moment resumes (``--resume true``) from the
      last complete epoch and never finds a truncated file;
    - a batch with a non-finite loss or gradient (whose optimizer step ESPnet skips)
      cannot leave non-finite BatchNorm running statistics behind;
    - skipped steps are counted in the log, per epoch.
    """

    @classmethod
    def run(cls, model, **kwargs) -> None:
        with atomic_torch_save(), finite_batchnorm_statistics(model):
            super().run(model=model, **kwargs)

    @classmethod
    def train_one_epoch(cls, **kwargs) -> bool:
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
