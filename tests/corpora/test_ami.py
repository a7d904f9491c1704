"""AMI IHM test set: from a fabricated corpus in its own layout to a Kaldi dir."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
from fabricate_ami import RATE, fabricate_ami

from espnet_omnirouter.corpora import ami
from espnet_omnirouter.corpora.registry import CorpusError
from espnet_omnirouter.data.kaldi_dir import validate_data_dir


def read_table(path: Path) -> dict:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def test_prepare_writes_headset_segments_of_the_test_meetings(tmp_path, capsys):
    corpus, expected = fabricate_ami(tmp_path)
    dirs = ami.prepare(corpus, tmp_path / "data", num_jobs=1)

    data = tmp_path / "data" / "ami_ihm_test"
    assert dirs == {"ami_ihm_test": data}
    assert validate_data_dir(data) == 4
    # punctuation as the annotators wrote it; full stops cut segments; no training meeting
    assert read_table(data / "text") == {utt: text for utt, (_, text, _) in expected.items()}
    assert read_table(data / "utt2spk") == {utt: utt.split("_")[0] for utt in expected}
    wav = read_table(data / "wav.scp")
    segments = read_table(data / "segments")
    assert segments.keys() == expected.keys()
    for utt, (headset, _, audio) in expected.items():
        recording, start, end = segments[utt].split()
        assert recording == headset
        meeting = headset.split(".")[0]
        assert wav[recording] == str(corpus / "amicorpus" / meeting / "audio" / f"{headset}.wav")
        samples, rate = soundfile.read(
            wav[recording], start=round(float(start) * RATE), stop=round(float(end) * RATE)
        )
        assert rate == RATE
        np.testing.assert_allclose(samples, audio, atol=1.5 / 32768)
    assert "[prepare] ami_ihm_test: 4 utterances, 0.0 h" in capsys.readouterr().out


def test_missing_headset_is_named(tmp_path):
    corpus, _ = fabricate_ami(tmp_path)
    (corpus / "amicorpus" / "ES2004a" / "audio" / "ES2004a.Headset-1.wav").unlink()
    with pytest.raises(CorpusError, match=r"missing ES2004a/audio/ES2004a\.Headset-1\.wav"):
        ami.prepare(corpus, tmp_path / "data", num_jobs=1)


def test_missing_annotations_are_named(tmp_path):
    with pytest.raises(CorpusError, match=r"--ami_root .*missing ami_public_manual_1\.6\.2"):
        ami.prepare(tmp_path, tmp_path / "data", num_jobs=1)
