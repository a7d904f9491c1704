"""``espnet2.bin.asr_inference`` with the espnet_omnirouter classes registered.

Usage: python -m espnet_omnirouter.bin.asr_inference [ESPnet asr_inference options]
"""

from espnet2.bin.asr_inference import main

import espnet_omnirouter  # noqa: F401  (registers; spawned workers re-import this module)

if __name__ == "__main__":
    main()
