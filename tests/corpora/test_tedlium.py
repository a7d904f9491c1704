"""TED-LIUM 3 test set: from a fabricated corpus in its own layout to a Kaldi dir."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
from fabricate_tedlium import fabricate_tedlium

from espnet_omnirouter.corpora import tedlium
from espnet_omnirouter.corpora.registry import CorpusError
from espnet_omnirouter.data.kaldi_dir import validate_data_dir


def read_table(path: Path) -> dict:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def test_prepare_writes_segments_of_the_sphere_talks(tmp_path, capsys):
    corpus, expected = fabricate_tedlium(tmp_path)
    dirs = tedlium.prepare(corpus, tmp_path / "data", num_jobs=2)

    data = tmp_path / "data" / "tedlium_test"
    assert dirs == {"tedlium_test": data}
    assert validate_data_dir(data) == 5  # the sphere files are read by soundfile
    assert read_table(data / "text") == {utt: text for utt, (text, _) in expected.items()}
    wav = read_table(data / "wav.scp")
    assert wav == {
        talk: str(corpus / "legacy" / "test" / "sph" / f"{talk}.sph")
        for talk in ("AimeeMullins_2009P", "DanielKahneman_2010")
    }
    segments = read_table(data / "segments")
    assert segments.keys() == expected.keys()
    for utt, (_, audio) in expected.items():
        talk, start, end = segments[utt].split()
        assert utt.startswith(f"{talk}-")
        samples, rate = soundfile.read(
            wav[talk], start=round(float(start) * 16000), stop=round(float(end) * 16000)
        )
        assert rate == 16000
        np.testing.assert_allclose(samples, audio, atol=1.5 / 32768)
    assert read_table(data / "utt2spk") == {utt: utt.rsplit("-", 1)[0] for utt in expected}
    assert "[prepare] tedlium_test: 5 utterances, 0.0 h" in capsys.readouterr().out


def test_missing_stm_is_named(tmp_path):
    corpus, _ = fabricate_tedlium(tmp_path)
    (corpus / "legacy" / "test" / "stm" / "DanielKahneman_2010.stm").unlink()
    with pytest.raises(CorpusError, match="missing legacy/test/stm/DanielKahneman_2010.stm"):
        tedlium.prepare(corpus, tmp_path / "data", num_jobs=1)


def test_missing_talks_are_named(tmp_path):
    with pytest.raises(CorpusError, match=r"--tedlium_root .*no legacy/test/sph/\*\.sph"):
        tedlium.prepare(tmp_path, tmp_path / "data", num_jobs=1)
