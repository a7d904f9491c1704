"""The ASR task that ``bin/asr_train`` runs: ESPnet's ``ASRTask`` trained by
``CrashSafeTrainer``, with a ``--deterministic`` option and a clean distributed exit."""

import argparse
import os

import torch
from espnet2.tasks.asr import ASRTask
from espnet2.utils.types import str2bool

from espnet_omnirouter.train.trainer import CrashSafeTrainer


class CrashSafeASRTask(ASRTask):
    """ESPnet's ``ASRTask`` (same options, class choices and model building; the plugin's
    classes are registered into the choices it shares) whose trainer is
    ``CrashSafeTrainer``: atomic checkpoints, non-finite steps handled, one progress line
    per epoch. A subclass, so that importing the plugin leaves ESPnet's own task as it is.

    ``--deterministic true`` makes every worker run deterministic kernels (see
    ``use_deterministic_kernels``)."""

    trainer = CrashSafeTrainer

    @classmethod
    def add_task_arguments(cls, parser: argparse.ArgumentParser) -> None:
        super().add_task_arguments(parser)
        group = parser.add_argument_group("Reproducibility (espnet_omnirouter)")
        group.add_argument(
            "--deterministic",
            type=str2bool,
            default=False,
            help="Run deterministic kernels only (torch.use_deterministic_algorithms, "
            "cuDNN deterministic and not autotuned, a fixed cuBLAS workspace): with the same "
            "--seed, machine and thread count, a run repeats bit for bit. Slower on a GPU.",
        )

    @classmethod
    def main_worker(cls, args: argparse.Namespace) -> None:
        """ESPnet's worker, then the process group taken down before the process exits:
        left to interpreter shutdown, gloo's threads can abort a rank that finished first
        ("terminate called without an active exception")."""
        if args.deterministic:
            args.cudnn_deterministic, args.cudnn_benchmark = True, False
            use_deterministic_kernels()
        try:
            super().main_worker(args)
        finally:
            if torch.distributed.is_available() and torch.distributed.is_initialized():
                torch.distributed.destroy_process_group()


def use_deterministic_kernels() -> None:
    """Make this process's torch kernels deterministic.

    cuBLAS needs a fixed workspace (``CUBLAS_WORKSPACE_CONFIG``, set unless the user set
    it) before its first call. Ops with no deterministic CUDA kernel (e.g. the CTC loss's
    backward) warn instead of stopping the run: those stay the run-to-run difference left
    on a GPU. The MoE dispatch's ``index_add_`` has a deterministic kernel.
    """
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)
