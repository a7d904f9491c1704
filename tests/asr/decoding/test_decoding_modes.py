"""The decoding modes that suit a model (``--modes auto``)."""

from types import SimpleNamespace

import pytest
from conftest import TINY_CONFORMER

from espnet_omnirouter.asr.decoding.decoding_modes import auto_modes, streams
from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder

U2PP = {**TINY_CONFORMER, "rel_pos_type": "legacy", "cnn_module_kernel": 5}


@pytest.fixture(scope="module")
def encoders():
    return {
        "conformer": MoEConformerEncoder(20, **TINY_CONFORMER),
        "u2pp": U2ppConformerEncoder(20, **U2PP),
    }


@pytest.mark.parametrize(
    "encoder, decoder, lexicon_lm, modes",
    [
        ("conformer", False, False, ["ctc_greedy"]),
        ("conformer", False, True, ["ctc_lexicon_lm", "ctc_greedy"]),
        ("conformer", True, True, ["attention_rescoring", "ctc_greedy"]),
        ("u2pp", True, False, ["attention_rescoring", "ctc_prefix_beam_search"]),
        ("u2pp", False, True, ["ctc_lexicon_lm", "ctc_greedy"]),
    ],
)
def test_auto_modes_follow_the_model(encoders, encoder, decoder, lexicon_lm, modes):
    model = SimpleNamespace(encoder=encoders[encoder], decoder=object() if decoder else None)
    assert auto_modes(model, lexicon_lm) == modes
    assert streams(model) == (encoder == "u2pp")
