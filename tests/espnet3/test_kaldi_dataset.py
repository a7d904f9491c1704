"""KaldiDirDataset and kaldi_transcripts (ESPnet 202609+ only: skipped without ESPnet3)."""

import numpy as np
import pytest
import soundfile

# ESPnet3's package, not this directory (tests/ is on sys.path, and without ESPnet3
# installed "espnet3" would name tests/espnet3 as a namespace package).
pytest.importorskip("espnet3.systems")

from espnet_omnirouter.data.kaldi_dir import DataDirError, Utterance, write_data_dir  # noqa: E402
from espnet_omnirouter.espnet3.kaldi_dataset import (  # noqa: E402
    KaldiDirDataset,
    kaldi_transcripts,
)


@pytest.fixture
def data_dir(tmp_path):
    rng = np.random.default_rng(0)
    utterances = []
    for utt, text, samples in [("u1", "hello world", 800), ("u2", "good bye", 1200)]:
        path = tmp_path / f"{utt}.wav"
        soundfile.write(path, 0.1 * rng.standard_normal(samples), 16000)
        utterances.append(Utterance(utt, "speaker", str(path), text))
    write_data_dir(utterances, tmp_path / "set")
    return tmp_path / "set"


def test_items_are_the_audio_and_transcripts_in_wav_scp_order(data_dir):
    dataset = KaldiDirDataset(data_dir)
    assert len(dataset) == 2
    first, second = dataset[0], dataset[1]
    assert set(first) == {"speech", "text"}  # collatable: no strings but the text
    assert first["text"] == "hello world" and second["text"] == "good bye"
    assert first["speech"].dtype == np.float32 and first["speech"].shape == (800,)
    expected, _ = soundfile.read(data_dir.parent / "u2.wav", dtype="float32")
    np.testing.assert_array_equal(second["speech"], expected)


def test_utt_ids_adds_the_kaldi_id(data_dir):
    dataset = KaldiDirDataset(data_dir, utt_ids=True)
    assert [dataset[i]["utt_id"] for i in range(2)] == ["u1", "u2"]
    assert [field.name for field in dataset.fields] == ["speech", "text", "utt_id"]


def test_an_inconsistent_dir_names_its_problem(data_dir):
    (data_dir / "text").write_text("u1 hello world\n")  # u2 has no transcript
    with pytest.raises(DataDirError, match="u2"):
        KaldiDirDataset(data_dir)


def test_transcripts_for_the_tokenizer(data_dir):
    assert kaldi_transcripts(data_dir) == ["hello world", "good bye"]
