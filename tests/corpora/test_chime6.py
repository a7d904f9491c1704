"""CHiME-6 evaluation sessions (worn microphones): from a fabricated corpus in its own
layout to a Kaldi dir."""

from pathlib import Path

import numpy as np
import pytest
from fabricate_chime6 import RATE, fabricate_chime6

from espnet_omnirouter.corpora import chime6
from espnet_omnirouter.corpora.registry import CorpusError
from espnet_omnirouter.data.format_data_dir import read_recording
from espnet_omnirouter.data.kaldi_dir import validate_data_dir


def read_table(path: Path) -> dict:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def test_prepare_cuts_the_left_ear_of_each_worn_microphone(tmp_path, capsys):
    corpus, expected = fabricate_chime6(tmp_path)
    dirs = chime6.prepare(corpus, tmp_path / "data", num_jobs=1)

    data = tmp_path / "data" / "chime6_eval"
    assert dirs == {"chime6_eval": data}
    assert validate_data_dir(data) == 4
    # markup removed, laughter-only and redacted segments dropped
    assert read_table(data / "text") == {utt: text for utt, (_, text, _) in expected.items()}
    assert read_table(data / "utt2spk") == {utt: utt.split("_")[0] for utt in expected}
    wav = read_table(data / "wav.scp")
    assert wav == {
        f"{name}_ch0": f"sox {corpus}/audio/eval/{name}.wav -t wav - remix 1 |"
        for name in ("S01_P01", "S01_P02", "S21_P45")
    }
    segments = read_table(data / "segments")
    assert segments.keys() == expected.keys()
    for utt, (name, _, audio) in expected.items():
        recording, start, end = segments[utt].split()
        assert recording == f"{name}_ch0"
        samples, rate = read_recording(wav[recording])
        assert rate == RATE and samples.shape[1] == 1
        cut = samples[round(float(start) * RATE) : round(float(end) * RATE), 0]
        np.testing.assert_allclose(cut, audio, atol=1.5 / 32768)
    assert "[prepare] chime6_eval: 4 utterances, 0.0 h" in capsys.readouterr().out


def test_transcript_text_drops_markup_and_redacted_segments():
    assert chime6.transcript_text("So [laughs] I  said [inaudible 0:03:12.50] no.") == (
        "So I said no."
    )
    assert chime6.transcript_text("[redacted] is here") == ""


def test_missing_microphone_is_named(tmp_path):
    corpus, _ = fabricate_chime6(tmp_path)
    (corpus / "audio" / "eval" / "S01_P02.wav").unlink()
    with pytest.raises(CorpusError, match=r"missing audio/eval/S01_P02\.wav"):
        chime6.prepare(corpus, tmp_path / "data", num_jobs=1)


def test_missing_transcript_is_named(tmp_path):
    corpus, _ = fabricate_chime6(tmp_path)
    (corpus / "transcriptions" / "eval" / "S21.json").unlink()
    with pytest.raises(CorpusError, match=r"--chime6_root .*missing transcriptions/eval/S21\.json"):
        chime6.prepare(corpus, tmp_path / "data", num_jobs=1)
