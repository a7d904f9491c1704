"""``espnet2.bin.asr_train`` with the espnet_omnirouter classes registered.

Usage: python -m espnet_omnirouter.bin.asr_train [ESPnet asr_train options]
"""

from espnet2.bin.asr_train import main

import espnet_omnirouter  # noqa: F401  (registers; spawned workers re-import this module)

if __name__ == "__main__":
    main()
