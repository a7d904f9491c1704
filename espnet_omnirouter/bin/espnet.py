"""Run any ESPnet command-line module with the plugin registered.

Usage: python -m espnet_omnirouter.bin.espnet espnet2.bin.tokenize_text [options]

Importing the plugin first registers its classes and imports ESPnet without its
import-time nltk download attempts (see ``espnet_omnirouter.utils.offline``).
"""

import runpy
import sys

import espnet_omnirouter  # noqa: F401


def main() -> None:
    if len(sys.argv) < 2 or not sys.argv[1].startswith("espnet"):
        sys.exit(f"usage: python -m espnet_omnirouter.bin.espnet MODULE [options]\n{__doc__}")
    module = sys.argv.pop(1)
    sys.argv[0] = module
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
