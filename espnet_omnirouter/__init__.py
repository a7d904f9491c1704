"""espnet_omnirouter: Switch and Omni-router Mixture-of-Experts ASR for ESPnet.

Importing this package registers its encoder, decoder and model classes into ESPnet's
ASR task, so ESPnet configs can name them (``encoder: moe_conformer``, ``decoder:
bi_transformer``, ``model: u2pp``, ...). Without ESPnet installed (a deployment machine
with only ``onnxruntime``, ``numpy``, ``soundfile``, ``soxr`` and ``sentencepiece``) there
is nothing to register into, and ``espnet_omnirouter.runtime`` works without torch.
"""

__version__ = "0.1.0"

try:
    import espnet2  # noqa: F401
except ImportError:
    pass
else:
    from espnet_omnirouter.registration import register_asr_choices

    register_asr_choices()
