"""Print the decoding mode that suits a trained model (its ``config.yaml``): the plugin's
``attention_rescoring`` for a model with an attention decoder (U2++), else ``ctc_greedy``,
as ``bin/decode --modes auto`` chooses without a word LM.

Usage: python local/decoding_mode.py exp/training_<model>/config.yaml
"""

import sys
from pathlib import Path

import yaml

if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip().splitlines()[-1])
    config = yaml.safe_load(Path(sys.argv[1]).read_text())
    print("attention_rescoring" if config.get("decoder") else "ctc_greedy")
