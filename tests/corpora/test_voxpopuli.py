"""VoxPopuli English test split: from a fabricated corpus in its own layout to a Kaldi dir."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
from fabricate_voxpopuli import fabricate_voxpopuli

from espnet_omnirouter.corpora import voxpopuli
from espnet_omnirouter.corpora.registry import CorpusError
from espnet_omnirouter.data.kaldi_dir import validate_data_dir


def read_table(path: Path) -> dict:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def test_prepare_writes_segments_of_the_sessions(tmp_path, capsys):
    corpus, expected = fabricate_voxpopuli(tmp_path)
    dirs = voxpopuli.prepare(corpus, tmp_path / "data", num_jobs=1)

    data = tmp_path / "data" / "voxpopuli_test"
    assert dirs == {"voxpopuli_test": data}
    assert validate_data_dir(data) == 3
    assert read_table(data / "text") == {utt: text for utt, (text, _) in expected.items()}
    assert read_table(data / "utt2spk") == {
        "20090114-0900-PLENARY-10-2": "96",
        "20090114-0900-PLENARY-10-3": "1185",
        "20180418-0900-PLENARY-3-2": "124806",
    }
    wav = read_table(data / "wav.scp")
    sessions = corpus / "raw_audios" / "original"
    assert wav == {  # the corpus's files, not the staging links
        "20090114-0900-PLENARY-10": f"{sessions}/2009/20090114-0900-PLENARY-10_original.ogg",
        "20180418-0900-PLENARY-3": f"{sessions}/2018/20180418-0900-PLENARY-3_original.ogg",
    }
    segments = read_table(data / "segments")
    assert segments.keys() == expected.keys()
    for utt, (_, audio) in expected.items():
        session, start, end = segments[utt].split()
        samples, rate = soundfile.read(
            wav[session], start=round(float(start) * 16000), stop=round(float(end) * 16000)
        )
        assert rate == 16000 and len(samples) == len(audio)
        assert np.corrcoef(samples, audio)[0, 1] > 0.9  # Vorbis is lossy
    assert not list(corpus.rglob("*.jsonl.gz"))
    assert "[prepare] voxpopuli_test: 3 utterances, 0.0 h" in capsys.readouterr().out


def test_missing_session_is_named(tmp_path):
    corpus, _ = fabricate_voxpopuli(tmp_path)
    (corpus / "raw_audios/original/2018/20180418-0900-PLENARY-3_original.ogg").unlink()
    with pytest.raises(CorpusError, match="2018/20180418-0900-PLENARY-3_original.ogg"):
        voxpopuli.prepare(corpus, tmp_path / "data", num_jobs=1)


def test_missing_annotations_are_named(tmp_path):
    corpus, _ = fabricate_voxpopuli(tmp_path)
    (corpus / "transcribed_data" / "en" / "asr_en.tsv.gz").unlink()
    with pytest.raises(CorpusError, match="no transcribed_data/en/asr_en.tsv.gz or asr_en"):
        voxpopuli.prepare(corpus, tmp_path / "data", num_jobs=1)
    with pytest.raises(CorpusError, match="no raw_audios/original/"):
        voxpopuli.prepare(tmp_path, tmp_path / "data", num_jobs=1)
