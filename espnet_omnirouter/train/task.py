"""The ASR task that ``bin/asr_train`` runs: ESPnet's ``ASRTask`` trained by
``CrashSafeTrainer``."""

from espnet2.tasks.asr import ASRTask

from espnet_omnirouter.train.trainer import CrashSafeTrainer


class CrashSafeASRTask(ASRTask):
    """ESPnet's ``ASRTask`` (same options, class choices and model building; the plugin's
    classes are registered into the choices it shares) whose trainer is
    ``CrashSafeTrainer``: atomic checkpoints, non-finite steps handled, one progress line
    per epoch. A subclass, so that importing the plugin leaves ESPnet's own task as it is."""

    trainer = CrashSafeTrainer
