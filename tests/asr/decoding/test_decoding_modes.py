"""The decoding modes that suit a model (``--modes auto``)."""

from types import SimpleNamespace

import pytest

from espnet_omnirouter.asr.decoding.decoding_modes import auto_modes


@pytest.mark.parametrize(
    "chunk_attention, decoder, lexicon_lm, modes",
    [
        (False, False, False, ["ctc_greedy"]),
        (False, False, True, ["ctc_lexicon_lm", "ctc_greedy"]),
        (False, True, True, ["attention_rescoring", "ctc_greedy"]),
        (True, True, False, ["attention_rescoring", "ctc_prefix_beam_search"]),
        (True, False, True, ["ctc_lexicon_lm", "ctc_greedy"]),
    ],
)
def test_auto_modes_follow_the_model(chunk_attention, decoder, lexicon_lm, modes):
    """``auto_modes`` reads two facts of an ``EagerModel``: whether it has an attention
    decoder and whether its encoder is U2++'s (chunk attention)."""
    model = SimpleNamespace(has_decoder=decoder, chunk_attention=chunk_attention)
    assert auto_modes(model, lexicon_lm) == modes
