"""Common Voice English test split: from a fabricated release to a Kaldi dir."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
from fabricate_commonvoice import CLIPS, fabricate_commonvoice

from espnet_omnirouter.corpora import commonvoice
from espnet_omnirouter.corpora.registry import CorpusError
from espnet_omnirouter.data.kaldi_dir import validate_data_dir


def read_table(path: Path) -> dict:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def test_prepare_names_the_mp3_clips(tmp_path, capsys):
    corpus, expected = fabricate_commonvoice(tmp_path)
    dirs = commonvoice.prepare(corpus, tmp_path / "data", num_jobs=1)

    data = tmp_path / "data" / "commonvoice_test"
    assert dirs == {"commonvoice_test": data}
    assert validate_data_dir(data) == 4  # soundfile reads the MP3 clips
    assert not (data / "segments").exists()
    assert read_table(data / "text") == {utt: text for utt, (text, _) in expected.items()}
    assert read_table(data / "utt2spk") == {utt: client for utt, (client, _) in CLIPS.items()}
    wav = read_table(data / "wav.scp")
    assert wav == {utt: str(corpus / "en" / "clips" / f"{utt}.mp3") for utt in expected}
    for utt, (_, audio) in expected.items():
        samples, rate = soundfile.read(wav[utt])
        assert rate == 48000
        assert abs(len(samples) - len(audio)) < 0.1 * rate  # MP3 adds encoder delay
        assert np.std(samples) == pytest.approx(np.std(audio), rel=0.2)
    assert list((tmp_path / "data" / "manifests").glob("cv-en_*_test.jsonl.gz"))
    assert not list(corpus.rglob("*.jsonl.gz"))
    assert "[prepare] commonvoice_test: 4 utterances, 0.0 h" in capsys.readouterr().out


def test_missing_clip_is_named(tmp_path):
    corpus, _ = fabricate_commonvoice(tmp_path)
    (corpus / "en" / "clips" / "common_voice_en_20012345.mp3").unlink()
    with pytest.raises(CorpusError, match="1 clips .* en/clips/common_voice_en_20012345.mp3"):
        commonvoice.prepare(corpus, tmp_path / "data", num_jobs=1)


def test_missing_test_tsv_is_named(tmp_path):
    with pytest.raises(CorpusError, match="--commonvoice_root .*no en/test.tsv"):
        commonvoice.prepare(tmp_path, tmp_path / "data", num_jobs=1)
