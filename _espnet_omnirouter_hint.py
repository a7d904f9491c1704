"""Name the missing import when ESPnet meets a config that needs espnet_omnirouter.

ESPnet has no plugin entry points: a process that loads a model whose config says
``encoder: moe_conformer`` without ``import espnet_omnirouter`` fails inside ESPnet with
"--encoder must be one of (...)", which does not say what is missing. Installing
espnet_omnirouter adds a start-up hook (``espnet_omnirouter-hint.pth``) that calls
:func:`install`: once ESPnet's ``espnet2.train.class_choices`` is imported, that error
gains one sentence telling the user to ``import espnet_omnirouter``.

This module lives outside the package because importing ``espnet_omnirouter`` imports
ESPnet and torch, which no Python start-up should pay for. It registers nothing itself:
the explicit import stays the way to use the plugin.
"""

import functools
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

# ESPnet choices name -> the keys espnet_omnirouter registers there (checked against
# espnet_omnirouter.registration by the tests).
PLUGIN_CHOICES = {
    "encoder": ("moe_conformer", "u2pp_conformer"),
    "decoder": ("moe_transformer", "bi_transformer"),
    "model": ("moe_espnet", "u2pp"),
}
CLASS_CHOICES_MODULE = "espnet2.train.class_choices"


def add_hint(class_choices: ModuleType) -> None:
    """Make ``ClassChoices.get_class`` name the plugin for keys only it provides."""
    original = class_choices.ClassChoices.get_class
    if getattr(original, "names_espnet_omnirouter", False):
        return

    @functools.wraps(original)
    def get_class(self, name):
        try:
            return original(self, name)
        except ValueError as error:
            if name is None or name.lower() not in PLUGIN_CHOICES.get(self.name, ()):
                raise
            raise ValueError(
                f"{error}. {self.name} '{name}' comes from the espnet_omnirouter plugin: run "
                "`import espnet_omnirouter` before building or loading this model (it "
                "registers the plugin's classes into ESPnet), or use its commands "
                "(python -m espnet_omnirouter.bin.asr_inference, ...)"
            ) from error

    get_class.names_espnet_omnirouter = True
    class_choices.ClassChoices.get_class = get_class


class _ClassChoicesWatcher(importlib.abc.MetaPathFinder):
    """Finds ESPnet's class_choices module like the path finder does, then adds the hint
    once it has run; every other import passes through untouched."""

    def find_spec(self, fullname, path, target=None):
        if fullname != CLASS_CHOICES_MODULE:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path, target)
        if spec is None or spec.loader is None:
            return spec
        run_module = spec.loader.exec_module

        def exec_module(module: ModuleType) -> None:
            run_module(module)
            add_hint(module)

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Add the hint now if ESPnet is already imported, else when it is."""
    if CLASS_CHOICES_MODULE in sys.modules:
        add_hint(sys.modules[CLASS_CHOICES_MODULE])
    elif not any(isinstance(finder, _ClassChoicesWatcher) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ClassChoicesWatcher())
