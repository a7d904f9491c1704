"""espnet_omnirouter: Switch and Omni-router Mixture-of-Experts ASR for ESPnet.

Importing this package registers its encoder, decoder and model classes into ESPnet's
ASR task, so ESPnet configs can name them (``encoder: moe_conformer``, ``decoder:
bi_transformer``, ``model: u2pp``, ...).
"""

from espnet_omnirouter.registration import register_asr_choices

__version__ = "0.1.0"

register_asr_choices()
