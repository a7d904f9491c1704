"""Registers the plugin's classes into ESPnet's ASR task choices.

ESPnet has no plugin entry points: ``espnet2.tasks.asr`` keeps module-level
``ClassChoices`` that ``ASRTask`` reads when it builds its argument parser and its
model, so adding our classes to them at import time makes ``encoder: moe_conformer``,
``decoder: bi_transformer``, ``model: u2pp``, ... valid in any ESPnet config.
"""

import contextlib
import sys
from typing import Dict, Type


def plugin_choices() -> Dict[str, Dict[str, Type]]:
    """``{choices name: {config key: class}}`` of everything this plugin adds."""
    from espnet_omnirouter.asr.decoder.bi_transformer_decoder import BiTransformerDecoder
    from espnet_omnirouter.asr.decoder.moe_transformer_decoder import MoETransformerDecoder
    from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
    from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder
    from espnet_omnirouter.asr.espnet_model import MoEESPnetASRModel
    from espnet_omnirouter.asr.frontend.kaldi_fbank import KaldiFbankFrontend
    from espnet_omnirouter.asr.u2pp_model import U2ppASRModel

    return {
        "frontend": {"kaldi_fbank": KaldiFbankFrontend},
        "encoder": {"moe_conformer": MoEConformerEncoder, "u2pp_conformer": U2ppConformerEncoder},
        "decoder": {
            "moe_transformer": MoETransformerDecoder,
            "bi_transformer": BiTransformerDecoder,
        },
        "model": {"moe_espnet": MoEESPnetASRModel, "u2pp": U2ppASRModel},
    }


def register_asr_choices() -> None:
    """Add the plugin's classes to ``espnet2.tasks.asr``; safe to call repeatedly."""
    from espnet_omnirouter.utils.offline import nltk_downloads_skipped

    # ESPnet prints import notices ("Failed to import Flash Attention ...") to stdout, which
    # belongs to our CLIs' results (transcripts): they go to stderr instead.
    with nltk_downloads_skipped(), contextlib.redirect_stdout(sys.stderr):
        from espnet2.tasks import asr

        choices_by_name = plugin_choices()
    for choices_name, classes in choices_by_name.items():
        choices = getattr(asr, f"{choices_name}_choices")
        for key, cls in classes.items():
            registered = choices.classes.setdefault(key, cls)
            if registered is not cls:
                raise RuntimeError(
                    f"espnet2.tasks.asr.{choices_name}_choices already maps {key!r} to "
                    f"{registered.__module__}.{registered.__qualname__}"
                )
