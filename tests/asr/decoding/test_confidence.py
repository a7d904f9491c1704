"""Utterance confidence measures of pseudo-labels."""

import math

import pytest
import torch

from espnet_omnirouter.asr.decoding.confidence import combine, ctc_confidence, word_agreement

BLANK = 0


def log_probs_of(rows):
    """(1, T, 3) log-probabilities from per-frame probabilities over (blank, a, b)."""
    return torch.tensor([rows], dtype=torch.float32).log()


def test_ctc_confidence_is_the_mean_token_posterior_of_the_best_path():
    frames = [
        [0.9, 0.05, 0.05],  # blank
        [0.2, 0.7, 0.1],  # a (run 1) ...
        [0.1, 0.8, 0.1],  # ... its best frame: 0.8
        [0.6, 0.2, 0.2],  # blank
        [0.3, 0.1, 0.6],  # b: 0.6
        [0.3, 0.1, 0.6],  # (padding, beyond the length)
    ]
    confidence = ctc_confidence(log_probs_of(frames), torch.tensor([5]), BLANK)
    assert confidence == [pytest.approx((0.8 + 0.6) / 2)]
    # Blank frames do not count: a long pause changes nothing.
    padded = frames[:1] * 20 + frames[:5]
    assert ctc_confidence(log_probs_of(padded), torch.tensor([25]), BLANK) == confidence


def test_ctc_confidence_of_a_batch_and_of_an_empty_path():
    frames = [[0.9, 0.05, 0.05]] * 3 + [[0.1, 0.2, 0.7]]
    log_probs = torch.cat([log_probs_of(frames), log_probs_of(frames)])
    confidences = ctc_confidence(log_probs, torch.tensor([4, 3]), BLANK)
    assert confidences == [pytest.approx(0.7), 0.0]  # the second stops before its token


def test_word_agreement_and_combinations():
    assert word_agreement("the cat sat", "the cat sat") == 1.0
    assert word_agreement("the cat sat", "the hat sat down") == pytest.approx(1 - 2 / 4)
    assert word_agreement("", "") == 1.0 and word_agreement("", "a b") == 0.0
    assert combine(0.8, 0.5, "ctc") == 0.8 and combine(0.8, 0.5, "agreement") == 0.5
    assert math.isclose(combine(0.8, 0.5, "both"), 0.4)
    with pytest.raises(ValueError, match="choose from"):
        combine(0.8, 0.5, "entropy")
