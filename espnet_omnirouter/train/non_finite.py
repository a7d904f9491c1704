"""Keeping a non-finite batch from poisoning a model: ESPnet's trainer skips the optimizer
step when the gradient norm is not finite, but BatchNorm running statistics are updated
in the forward pass, before that check. These helpers protect them and count the skips."""

import contextlib
import logging
from typing import Iterator, List

import torch

# The warning ESPnet's Trainer.train_one_epoch logs when it skips a step.
ESPNET_SKIP_MESSAGE = "The grad norm is"


def _batchnorm_layers(model: torch.nn.Module) -> List[torch.nn.modules.batchnorm._BatchNorm]:
    return [
        m
        for m in model.modules()
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm) and m.track_running_stats
    ]


@contextlib.contextmanager
def finite_batchnorm_statistics(model: torch.nn.Module) -> Iterator[None]:
    """While the block runs, a training forward of any BatchNorm layer of ``model`` keeps
    its previous running mean/variance wherever the batch made them non-finite.

    Elementwise ``torch.where`` after each forward: no host synchronisation.
    """
    saved = {}

    def remember(module, inputs):
        if module.training:
            saved[module] = (module.running_mean.clone(), module.running_var.clone())

    def restore(module, inputs, output):
        previous = saved.pop(module, None)
        if previous is None:
            return
        for statistic, old in zip((module.running_mean, module.running_var), previous):
            # .data: autograd saved these buffers for batch_norm's backward, which does not
            # read them in training mode; writing through .data leaves its version check be.
            statistic.data.copy_(torch.where(torch.isfinite(statistic), statistic, old))

    handles = []
    for layer in _batchnorm_layers(model):
        handles.append(layer.register_forward_pre_hook(remember))
        handles.append(layer.register_forward_hook(restore))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


class SkippedStepCounter(logging.Filter):
    """Counts ESPnet's "grad norm is nan/inf, skipping" warnings and appends the running
    count to each, so a log shows how many steps a run has skipped so far."""

    def __init__(self):
        super().__init__()
        self.count = 0

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if message.startswith(ESPNET_SKIP_MESSAGE):
            self.count += 1
            record.msg = f"{message} [non-finite steps skipped in this epoch: {self.count}]"
            record.args = None
        return True


@contextlib.contextmanager
def counting_skipped_steps() -> Iterator[SkippedStepCounter]:
    """Attach a ``SkippedStepCounter`` to the root logger (ESPnet logs there)."""
    counter = SkippedStepCounter()
    root = logging.getLogger()
    root.addFilter(counter)
    try:
        yield counter
    finally:
        root.removeFilter(counter)
