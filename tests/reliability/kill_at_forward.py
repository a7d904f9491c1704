"""Run ``bin/asr_train`` and SIGKILL the process at its Nth training forward: a crash at a
known step. Usage: python kill_at_forward.py N [asr_train options]"""

import os
import signal
import sys

from espnet_omnirouter.asr.espnet_model import MoEESPnetASRModel
from espnet_omnirouter.bin import asr_train

kill_at = int(sys.argv[1])
forwards = 0
train_forward = MoEESPnetASRModel.forward


def forward_then_maybe_die(self, *args, **kwargs):
    global forwards
    if self.training:
        forwards += 1
        if forwards == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
    return train_forward(self, *args, **kwargs)


MoEESPnetASRModel.forward = forward_then_maybe_die
asr_train.main(sys.argv[2:])
