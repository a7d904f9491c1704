"""``espnet-omnirouter-python``: Python, with the plugin registered into ESPnet.

ESPnet's egs2 recipes start every step as ``${python} -m espnet2.bin.<tool> ...`` (and
``espnet2.bin.launch`` starts training as another such command, whose DDP workers are
started again with ``sys.executable``), with no hook for a plugin. Given as
``asr.sh --python espnet-omnirouter-python``, this command runs the real interpreter with
the same arguments (``os.execv``: same process, exit status, signals and ``sys.argv``)
and puts ``bootstrap/`` first on ``PYTHONPATH``. Its ``sitecustomize`` then runs at the
start-up of that process and of every Python process started from it, and calls
``install``: the plugin is imported, and so registered, right after
``espnet2.tasks.asr`` is, so a process that never loads ESPnet's ASR task (most of
``asr.sh``'s helper calls) pays nothing.

Python options that skip ``sitecustomize`` or ignore ``PYTHONPATH`` (``-S``, ``-E``,
``-I``) would start a Python without the plugin: they are refused.
"""

import os
import sys
from pathlib import Path
from types import ModuleType
from typing import List, Optional, Sequence

BOOTSTRAP_DIR = str(Path(__file__).resolve().parent / "bootstrap")
WATCHED_MODULE = "espnet2.tasks.asr"
# Options of the interpreter without which the bootstrap cannot run.
REFUSED_OPTIONS = {"S": "skips sitecustomize", "E": "ignores PYTHONPATH", "I": "ignores PYTHONPATH"}
# Interpreter options that take a value (``-X dev``, ``-W error``): the value is not an option.
OPTIONS_WITH_VALUE = {"X", "W"}


def refused_option(args: Sequence[str]) -> Optional[str]:
    """The first interpreter option in ``args`` that would lose the plugin, as "-S (why)",
    or None. Only the options before the script, ``-m`` or ``-c`` are the interpreter's."""
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--" or not arg.startswith("-") or arg == "-" or arg.startswith("--"):
            return None
        for position, letter in enumerate(arg[1:], start=1):
            if letter in REFUSED_OPTIONS:
                return f"-{letter} ({REFUSED_OPTIONS[letter]})"
            if letter in ("m", "c"):
                return None
            if letter in OPTIONS_WITH_VALUE:
                index += position == len(arg) - 1  # the value is the next argument
                break
        index += 1
    return None


def python_path_with_bootstrap(python_path: Optional[str]) -> str:
    """``PYTHONPATH`` with ``BOOTSTRAP_DIR`` first (once, however often this nests)."""
    entries = [e for e in (python_path or "").split(os.pathsep) if e and e != BOOTSTRAP_DIR]
    return os.pathsep.join([BOOTSTRAP_DIR, *entries])


def _register_plugin(_asr_task_module: ModuleType) -> None:
    import espnet_omnirouter  # noqa: F401  (its import registers the plugin's classes)


def install() -> None:
    """Register the plugin into ESPnet once ``espnet2.tasks.asr`` is imported (now, if it
    already is). Called by ``bootstrap/sitecustomize.py`` at start-up."""
    from _espnet_omnirouter_startup import after_import

    after_import(WATCHED_MODULE, _register_plugin)


def main(argv: Optional[List[str]] = None) -> None:
    """Replace this process by ``sys.executable ARGS...`` with the bootstrap on its path."""
    args = sys.argv[1:] if argv is None else argv
    refused = refused_option(args)
    if refused is not None:
        sys.exit(
            f"espnet-omnirouter-python: {refused} would start Python without the "
            "espnet_omnirouter plugin; run without it"
        )
    os.environ["PYTHONPATH"] = python_path_with_bootstrap(os.environ.get("PYTHONPATH"))
    os.execv(sys.executable, [sys.executable, *args])
