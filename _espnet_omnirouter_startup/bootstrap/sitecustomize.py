"""Run at start-up by each Python process of ``espnet-omnirouter-python`` (which puts this
directory first on ``PYTHONPATH``, inherited by the processes it starts).

Installs the plugin's registration (``_espnet_omnirouter_startup.python.install``), takes
this directory off ``sys.path`` again, and runs the ``sitecustomize`` it hid, if the
environment has one. A Python without espnet_omnirouter that inherits the variable (another
environment started from a recipe step) only does the latter.
"""

import importlib.machinery
import importlib.util
import os
import sys


def _run_hidden_sitecustomize(here: str) -> None:
    sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != here]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", sys.path)
    if spec is not None and spec.loader is not None:
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitecustomize"] = module
        spec.loader.exec_module(module)


try:
    from _espnet_omnirouter_startup.python import install
except ImportError:
    pass
else:
    install()
_run_hidden_sitecustomize(os.path.dirname(os.path.abspath(__file__)))
