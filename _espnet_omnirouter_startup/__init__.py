"""Start-up code of espnet_omnirouter that must not import it.

Importing ``espnet_omnirouter`` imports ESPnet and torch (seconds), which no Python
start-up should pay for. The modules here are light and run before, or instead of, that
import:

- ``hint``: ``espnet-omnirouter-hint``, an opt-in start-up hook that makes ESPnet's
  "--encoder must be one of (...)" error name the missing ``import espnet_omnirouter``.
- ``python``: ``espnet-omnirouter-python``, a Python interpreter whose processes (and
  their child processes) register the plugin into ESPnet: the ``--python`` of ESPnet's
  egs2 recipes (``asr.sh --python espnet-omnirouter-python``).

Both wait for an ESPnet module to be imported (``after_import``) instead of importing
ESPnet themselves, so a process that never loads ESPnet pays nothing.
"""

import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Callable


class _AfterImport(importlib.abc.MetaPathFinder):
    """Finds one module as the path finder does and calls ``callback`` with it once it has
    run; every other import passes through untouched."""

    def __init__(self, module_name: str, callback: Callable[[ModuleType], None]):
        self.module_name = module_name
        self.callback = callback

    def find_spec(self, fullname, path, target=None):
        if fullname != self.module_name:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module
        callback = self.callback

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            callback(module)

        spec.loader.exec_module = exec_module
        return spec


def after_import(module_name: str, callback: Callable[[ModuleType], None]) -> None:
    """Call ``callback(module)`` once ``module_name`` has been imported: now if it already
    is, else right after its code has run. Calling it again for the same module and
    callback adds nothing."""
    if module_name in sys.modules:
        callback(sys.modules[module_name])
        return
    for finder in sys.meta_path:
        if isinstance(finder, _AfterImport) and (finder.module_name, finder.callback) == (
            module_name,
            callback,
        ):
            return
    sys.meta_path.insert(0, _AfterImport(module_name, callback))
