"""FLEURS en_us test split: from the Hub's layout and from lhotse's to a Kaldi dir."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
from fabricate_fleurs import expected_test_set, fabricate_fleurs_hub, fabricate_fleurs_lhotse

from espnet_omnirouter.corpora import fleurs
from espnet_omnirouter.corpora.registry import CorpusError
from espnet_omnirouter.data.kaldi_dir import validate_data_dir


def read_table(path: Path) -> dict:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def check_test_set(data: Path, audio_dir: Path) -> None:
    expected = expected_test_set()
    assert validate_data_dir(data, sample_rate=16000) == 3
    assert not (data / "segments").exists()
    assert read_table(data / "text") == {utt: text for utt, (text, _) in expected.items()}
    wav = read_table(data / "wav.scp")
    assert wav == {utt: str(audio_dir / f"{utt.split('_', 2)[2]}.wav") for utt in expected}
    for utt, (_, audio) in expected.items():
        np.testing.assert_array_equal(soundfile.read(wav[utt], dtype="float32")[0], audio)


def test_prepare_from_the_hub_layout(tmp_path, capsys):
    corpus = fabricate_fleurs_hub(tmp_path)
    dirs = fleurs.prepare(corpus, tmp_path / "data", num_jobs=1)

    assert dirs == {"fleurs_test": tmp_path / "data" / "fleurs_test"}
    # The test wavs are unpacked under the data dir; the corpus dir is left as it was.
    staged = tmp_path / "data" / "manifests" / "fleurs" / "en_us" / "test"
    check_test_set(dirs["fleurs_test"], staged)
    assert sorted(p.name for p in corpus.rglob("*") if p.is_file()) == sorted(
        [f"{split}.tsv" for split in ("train", "dev", "test")]
        + [f"{split}.tar.gz" for split in ("train", "dev", "test")]
    )
    assert "[prepare] fleurs_test: 3 utterances, 0.0 h" in capsys.readouterr().out


def test_prepare_from_the_lhotse_layout(tmp_path):
    corpus = fabricate_fleurs_lhotse(tmp_path)
    dirs = fleurs.prepare(corpus, tmp_path / "data", num_jobs=1)
    check_test_set(dirs["fleurs_test"], corpus / "en_us" / "test")


def test_missing_files_are_named(tmp_path):
    hub = fabricate_fleurs_hub(tmp_path)
    (hub / "data" / "en_us" / "audio" / "test.tar.gz").unlink()
    with pytest.raises(CorpusError, match="missing data/en_us/audio/test.tar.gz"):
        fleurs.prepare(hub, tmp_path / "data", num_jobs=1)
    corpus = fabricate_fleurs_lhotse(tmp_path)
    (corpus / "en_us" / "test" / "15911358364452016016.wav").unlink()
    with pytest.raises(CorpusError, match="missing en_us/test/15911358364452016016.wav"):
        fleurs.prepare(corpus, tmp_path / "data", num_jobs=1)
    with pytest.raises(CorpusError, match="missing metadata/en_us/train.tsv"):
        fleurs.prepare(tmp_path, tmp_path / "data", num_jobs=1)
