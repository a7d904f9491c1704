"""``espnet2.bin.asr_train`` with the espnet_omnirouter classes registered, its inputs
checked first, its trainer made crash-safe and one progress line printed per epoch.

Usage: python -m espnet_omnirouter.bin.asr_train [ESPnet asr_train options]

Before ESPnet starts (and writes anything to --output_dir), every ``*_conf`` key and the
training/validation data are checked (``train/preflight.py``); all problems are printed
with file, line and utterance id, and the exit status is 2. Training runs with
``CrashSafeTrainer`` (atomic checkpoints, non-finite steps skipped and counted, a line per
epoch on stdout: ``[train] epoch k/N: train loss ..; valid loss ..; elapsed, time left``),
through ``CrashSafeASRTask``, a subclass of ESPnet's ``ASRTask``.
"""

import sys

import espnet_omnirouter  # noqa: F401  (registers; spawned workers re-import this module)
from espnet_omnirouter.train.preflight import PreflightError, check_training_run
from espnet_omnirouter.train.task import CrashSafeASRTask


def main(cmd=None) -> None:
    args = CrashSafeASRTask.get_parser().parse_args(cmd)
    if not args.print_config:
        try:
            check_training_run(args)
        except PreflightError as error:
            print(f"asr_train: error: {error}", file=sys.stderr)
            sys.exit(2)
    CrashSafeASRTask.main(args=args)


if __name__ == "__main__":
    main()
