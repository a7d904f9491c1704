"""format_data_dir: pipes, segments, channels and rates become one mono file per utterance."""

import numpy as np
import pytest
import soundfile

from espnet_omnirouter.data.format_data_dir import format_data_dir, read_recording
from espnet_omnirouter.data.kaldi_dir import DataDirError, validate_data_dir
from espnet_omnirouter.data.validation import read_table
from espnet_omnirouter.utils.files import write_text_atomically


def write_dir(directory, files):
    for name, text in files.items():
        write_text_atomically(directory / name, text)


def test_channels_segments_and_rates(tmp_path):
    rate = 8000
    left = np.full(3 * rate, 0.25, np.float32)
    right = np.full(3 * rate, -0.5, np.float32)
    soundfile.write(tmp_path / "stereo.wav", np.stack([left, right], axis=1), rate)
    soundfile.write(tmp_path / "mono16k.flac", np.zeros(16000, np.float32), 16000)
    source = tmp_path / "source"
    write_dir(source, {
        "wav.scp": f"s_ch1 sox {tmp_path}/stereo.wav -t wav - remix 2 |\n"
        f"s_mix {tmp_path}/stereo.wav\n",
        "segments": "a s_ch1 0.5 1.5\nb s_mix 2.0 2.5\n",
        "text": "a one\nb two\n", "utt2spk": "a x\nb y\n", "spk2utt": "x a\ny b\n",
    })  # fmt: skip
    assert format_data_dir(source, tmp_path / "formatted", sample_rate=16000) == 2
    assert validate_data_dir(tmp_path / "formatted", sample_rate=16000) == 2
    wav = read_table(tmp_path / "formatted" / "wav.scp", []).entries
    a, a_rate = soundfile.read(wav["a"])
    b, _ = soundfile.read(wav["b"])
    assert a_rate == 16000 and len(a) == 16000 and len(b) == 8000
    assert np.median(a) == pytest.approx(-0.5, abs=1e-3)  # channel 2 only
    assert np.median(b) == pytest.approx(-0.125, abs=1e-3)  # channels averaged

    whole = tmp_path / "whole"
    write_dir(whole, {
        "wav.scp": f"c {tmp_path}/mono16k.flac\n", "text": "c three\n",
        "utt2spk": "c z\n", "spk2utt": "z c\n",
    })  # fmt: skip
    format_data_dir(whole, tmp_path / "whole_formatted", sample_rate=16000)
    kept = read_table(tmp_path / "whole_formatted" / "wav.scp", []).entries
    assert kept == {"c": f"{tmp_path}/mono16k.flac"}  # already right: referenced in place
    assert not (tmp_path / "whole_formatted_audio").exists()


def test_failures_name_the_entry(tmp_path):
    with pytest.raises(DataDirError, match="'false |' failed"):
        read_recording("false |")
    soundfile.write(tmp_path / "a.wav", np.zeros(8000, np.float32), 8000)
    source = tmp_path / "source"
    write_dir(source, {
        "wav.scp": f"r {tmp_path}/a.wav\n", "segments": "u r 2.0 3.0\n",
        "text": "u x\n", "utt2spk": "u s\n", "spk2utt": "s u\n",
    })  # fmt: skip
    with pytest.raises(DataDirError, match="u: segment 2.0-3.0 s is outside its audio"):
        format_data_dir(source, tmp_path / "out", sample_rate=8000)
    assert not (tmp_path / "out").exists()
