"""espnet_omnirouter: Switch and Omni-router Mixture-of-Experts ASR for ESPnet.

Importing this package registers its encoder and model classes into ESPnet's ASR
task, so ESPnet configs can name them (``encoder: moe_conformer``, ``model:
moe_espnet``).
"""

from espnet_omnirouter.registration import register_asr_choices

__version__ = "0.1.0"

register_asr_choices()
