"""Name the missing import when ESPnet meets a config that needs espnet_omnirouter.

ESPnet has no plugin entry points: a process that loads a model whose config says
``encoder: moe_conformer`` without ``import espnet_omnirouter`` fails inside ESPnet with
"--encoder must be one of (...)", which does not say what is missing. Users who want that
error to say so run ``espnet-omnirouter-hint enable`` once: it writes a start-up hook
(``espnet_omnirouter-hint.pth``) into their environment's site-packages that calls
:func:`install`, so that once ESPnet's ``espnet2.train.class_choices`` is imported, that
error gains one sentence telling the user to ``import espnet_omnirouter``. Installing the
package does not write it: code that runs in every Python process is the user's choice.
``espnet-omnirouter-hint disable`` removes it.

It registers nothing itself: the explicit import (or ``espnet-omnirouter-python``) stays
the way to use the plugin.
"""

import argparse
import functools
import sys
import sysconfig
from pathlib import Path
from types import ModuleType
from typing import List, Optional

from _espnet_omnirouter_startup import after_import

# ESPnet choices name -> the keys espnet_omnirouter registers there (checked against
# espnet_omnirouter.registration by the tests).
PLUGIN_CHOICES = {
    "frontend": ("kaldi_fbank",),
    "encoder": ("moe_conformer", "u2pp_conformer"),
    "decoder": ("moe_transformer", "bi_transformer"),
    "model": ("moe_espnet", "u2pp"),
}
CLASS_CHOICES_MODULE = "espnet2.train.class_choices"
# Lines of a .pth file that start with "import" run at start-up; this one does nothing
# where this module is gone (the package uninstalled, an editable checkout deleted).
PTH_NAME = "espnet_omnirouter-hint.pth"
PTH_LINE = (
    "import importlib.util; importlib.util.find_spec('_espnet_omnirouter_startup') "
    "and __import__('_espnet_omnirouter_startup.hint').hint.install()\n"
)


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


def install() -> None:
    """Add the hint now if ESPnet is already imported, else when it is."""
    after_import(CLASS_CHOICES_MODULE, add_hint)


def main(argv: Optional[List[str]] = None) -> int:
    """``espnet-omnirouter-hint enable|disable|status [--site_dir DIR]``."""
    parser = argparse.ArgumentParser(
        description="Add (enable) or remove (disable) the start-up hook that makes ESPnet's "
        "error name `import espnet_omnirouter` when a process forgot it."
    )
    parser.add_argument("action", choices=("enable", "disable", "status"))
    parser.add_argument(
        "--site_dir",
        type=Path,
        default=Path(sysconfig.get_paths()["purelib"]),
        help="site-packages dir of the environment (default: this interpreter's, %(default)s)",
    )
    args = parser.parse_args(argv)
    pth = args.site_dir / PTH_NAME
    if args.action == "enable":
        pth.write_text(PTH_LINE)
    elif args.action == "disable":
        pth.unlink(missing_ok=True)
    print(f"{pth}: {'enabled' if pth.is_file() else 'disabled'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
