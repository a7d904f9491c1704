"""The bin wrappers register the plugin wherever ESPnet runs them."""

import subprocess
import sys

import pytest

CHECK = (
    "import runpy, sys\n"
    "runpy.run_module('espnet_omnirouter.bin.{module}', run_name='__mp_main__')\n"
    "from espnet2.tasks import asr\n"
    "assert 'moe_conformer' in asr.encoder_choices.classes\n"
    "assert 'moe_espnet' in asr.model_choices.classes\n"
)


@pytest.mark.parametrize("module", ["asr_train", "asr_inference"])
def test_spawned_worker_import_registers_the_plugin(module):
    """torch.multiprocessing's spawn re-runs the main module as __mp_main__ in each worker
    (ESPnet spawns one per GPU); doing the same must register the plugin's classes."""
    result = subprocess.run(
        [sys.executable, "-c", CHECK.format(module=module)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]


def test_espnet_runner_needs_a_module():
    result = subprocess.run(
        [sys.executable, "-m", "espnet_omnirouter.bin.espnet"], capture_output=True, text=True
    )
    assert result.returncode != 0 and "usage" in result.stderr
