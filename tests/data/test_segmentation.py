"""Energy segmentation of long recordings into utterances."""

import numpy as np
import pytest

from espnet_omnirouter.data.segmentation import energy_segments

RATE = 8000


def utterances_with_pauses(rng, speech_seconds, pause_seconds, noise=0.003):
    """Tones (speech) between quiet noise (pauses); the speech spans in samples."""
    parts, spans, position = [], [], 0
    for speech, pause in zip(speech_seconds, pause_seconds):
        silence = noise * rng.standard_normal(int(pause * RATE))
        t = np.arange(int(speech * RATE)) / RATE
        tone = 0.4 * np.sin(2 * np.pi * 440 * t) * (1 + 0.5 * np.sin(2 * np.pi * 3 * t))
        parts += [silence, tone]
        spans.append((position + len(silence), position + len(silence) + len(tone)))
        position = spans[-1][1]
    parts.append(noise * rng.standard_normal(int(0.5 * RATE)))
    return np.concatenate(parts).astype(np.float32), spans


def test_one_segment_per_utterance_with_its_context():
    rng = np.random.default_rng(0)
    audio, spans = utterances_with_pauses(rng, [0.6, 1.2, 0.9, 0.4], [0.8, 0.5, 1.0, 0.6])
    segments = energy_segments(audio, RATE, max_seconds=5.0, padding_seconds=0.1)
    assert len(segments) == len(spans)
    for (start, end), (first, last) in zip(segments, spans):
        assert start <= first and last <= end  # the whole utterance
        assert first - start <= 0.15 * RATE and end - last <= 0.15 * RATE  # ~0.1 s padding
    assert all(a[1] <= b[0] for a, b in zip(segments, segments[1:]))  # in order, disjoint


def test_short_pauses_do_not_split_an_utterance():
    rng = np.random.default_rng(1)
    audio, spans = utterances_with_pauses(rng, [0.5, 0.5, 0.5], [0.5, 0.15, 0.15])
    segments = energy_segments(audio, RATE, max_seconds=5.0, min_silence_seconds=0.3)
    assert len(segments) == 1
    assert segments[0][0] <= spans[0][0] and spans[-1][1] <= segments[0][1]


@pytest.mark.parametrize("max_seconds", [1.0, 2.5])
def test_long_speech_and_loud_noise_are_split_below_the_maximum(max_seconds):
    rng = np.random.default_rng(2)
    speech, _ = utterances_with_pauses(rng, [6.0], [0.3])
    noise = 0.3 * rng.standard_normal(10 * RATE).astype(np.float32)  # no pause to find
    for audio in (speech, noise):
        segments = energy_segments(audio, RATE, max_seconds=max_seconds)
        assert all(0 < end - start <= max_seconds * RATE for start, end in segments)
        covered = sum(end - start for start, end in segments)
        assert covered >= 0.9 * len(audio) if audio is noise else covered >= 6.0 * RATE
        assert all(a[1] <= b[0] for a, b in zip(segments, segments[1:]))


def test_silence_gives_no_segment_and_padding_must_fit():
    rng = np.random.default_rng(3)
    audio, _ = utterances_with_pauses(rng, [0.5], [0.5])
    silent = np.concatenate([np.zeros(RATE), audio, np.zeros(RATE)])
    assert len(energy_segments(silent, RATE)) == 1  # digital silence is no utterance
    with pytest.raises(ValueError, match="max_seconds"):
        energy_segments(audio, RATE, max_seconds=0.1, padding_seconds=0.1)
