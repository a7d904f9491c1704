"""Empty and too-short waveforms decode to the empty hypothesis; the rest of the batch as
if decoded alone."""

import pytest
import torch

from espnet_omnirouter.asr.decoding.decoding_modes import decode_waves, make_decoding
from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.utils.legacy_nets import TooShortUttError


@pytest.fixture
def decoding(experiment):
    speech2text = load_speech2text(experiment / "config.yaml", experiment / "valid.loss.ave.pth", 1)
    return make_decoding(EagerModel(speech2text), ["ctc_greedy", "ctc_prefix_beam_search"])


def test_min_samples_is_the_encoders_limit(decoding):
    # hop 64, centred STFT: 1 + n // 64 frames; ESPnet's conv2d needs 7 frames.
    assert decoding.model.min_samples == 384
    model = decoding.model.model
    with torch.no_grad(), pytest.raises(TooShortUttError):
        model.encode(torch.zeros(1, 383), torch.tensor([383]))


def test_short_waves_get_empty_text_and_the_rest_is_unchanged(decoding):
    torch.manual_seed(0)
    long_waves = [torch.randn(4000), torch.randn(2500)]
    waves = [torch.zeros(0), long_waves[0], torch.randn(100), long_waves[1], torch.randn(383)]
    results = decode_waves(decoding, waves)
    alone = [decode_waves(decoding, [wave]) for wave in long_waves]
    for mode in decoding.modes:
        texts, seconds = results[mode]
        assert texts[0] == texts[2] == texts[4] == ""
        assert [texts[1], texts[3]] == [a[mode][0][0] for a in alone]
        assert seconds > 0


def test_a_batch_of_only_short_waves(decoding):
    results = decode_waves(decoding, [torch.zeros(0), torch.randn(10)])
    assert results == {mode: (["", ""], 0.0) for mode in decoding.modes}


def test_batched_waves_encode_as_they_do_alone(decoding):
    """Features are computed per waveform: ESPnet's STFT on a padded batch would give a
    shorter utterance's last frames other values."""
    torch.manual_seed(0)
    # 2450 and 3000 samples: the last STFT frame reaches the encoder output (conv2d keeps it)
    waves = [torch.randn(4000), torch.randn(2450), torch.randn(3000)]
    batched, lengths = decoding.model.encode_waves(waves)
    for index, wave in enumerate(waves):
        alone, alone_lengths = decoding.model.encode_waves([wave])
        frames = int(alone_lengths[0])
        assert int(lengths[index]) == frames
        torch.testing.assert_close(batched[index, :frames], alone[0], rtol=0, atol=2e-5)
