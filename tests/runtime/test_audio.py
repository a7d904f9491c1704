"""The one audio loader of the CLIs and data preparation: rates, channels, empty files, errors."""

import numpy as np
import pytest
import soundfile
import soxr

from espnet_omnirouter.runtime.audio import AudioError, load_audio, mono_at_rate

SAMPLE_RATE = 8000


def tone(seconds: float, rate: int, channels: int = 1) -> np.ndarray:
    """(samples, channels) float32: a 440 Hz tone under a 3 Hz envelope."""
    t = np.arange(int(seconds * rate)) / rate
    mono = 0.3 * np.sin(2 * np.pi * 440 * t) * np.sin(2 * np.pi * 3 * t)
    return np.stack([mono] * channels, axis=1).astype(np.float32)


@pytest.mark.parametrize("file_rate, suffix", [(16000, "flac"), (22050, "wav")])
def test_load_audio_resamples_and_mixes_down(tmp_path, file_rate, suffix):
    path = tmp_path / f"stereo.{suffix}"
    soundfile.write(path, tone(0.5, file_rate, channels=2), file_rate)
    samples = load_audio(path, SAMPLE_RATE)
    assert samples.dtype == np.float32 and samples.shape == (SAMPLE_RATE // 2,)
    expected = tone(0.5, SAMPLE_RATE)[:, 0]
    assert np.abs(samples[200:-200] - expected[200:-200]).max() < 0.01  # away from the edges


def test_channels_are_averaged_before_soxr_resamples():
    left, right = tone(0.3, 22050)[:, 0], 0.5 * tone(0.3, 22050)[:, 0][::-1]
    stereo = np.stack([left, right], axis=1)
    expected = soxr.resample((left + right) / 2, 22050, SAMPLE_RATE, quality="HQ")
    np.testing.assert_allclose(mono_at_rate(stereo, 22050, SAMPLE_RATE), expected, atol=1e-6)
    np.testing.assert_array_equal(mono_at_rate(stereo, 22050, 22050), (left + right) / 2)


@pytest.mark.parametrize("file_rate", [SAMPLE_RATE, 22050])
def test_an_empty_file_gives_no_samples(tmp_path, file_rate):
    path = tmp_path / "empty.wav"
    soundfile.write(path, np.zeros((0, 2), np.float32), file_rate)
    samples = load_audio(path, SAMPLE_RATE)
    assert samples.dtype == np.float32 and samples.shape == (0,)


@pytest.mark.parametrize(
    "content, error, message",
    [(None, FileNotFoundError, "not found"), (b"not audio", AudioError, "cannot read")],
)
def test_load_audio_errors_name_the_file(tmp_path, content, error, message):
    path = tmp_path / "x.wav"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(error, match=f"{message}.*x.wav|x.wav.*{message}"):
        load_audio(path, SAMPLE_RATE)
