"""LibriSpeech preparation from a fabricated corpus in OpenSLR's layout."""

import shutil

import pytest
import soundfile
from corpora.fabricate_librispeech import fabricate_librispeech

from espnet_omnirouter.corpora import librispeech
from espnet_omnirouter.corpora.registry import CORPUS_MODULES, CorpusError
from espnet_omnirouter.data.kaldi_dir import read_wav_scp, validate_data_dir

PARTS = ["train-clean-100", "dev-clean", "test-clean", "test-other"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """(directory holding LibriSpeech/, {part: {utt: text}})."""
    root = tmp_path_factory.mktemp("librispeech")
    return root, fabricate_librispeech(root, PARTS)


def read_table(path):
    return dict(line.split(" ", 1) for line in path.read_text().splitlines())


def test_benchmarks_have_ids_texts_speakers_and_readable_audio(corpus, tmp_path):
    root, transcripts = corpus
    written = librispeech.prepare(root, tmp_path, num_jobs=2)
    assert written == {
        "librispeech_test_clean": tmp_path / "librispeech_test_clean",
        "librispeech_test_other": tmp_path / "librispeech_test_other",
    }
    for name, part in (
        ("librispeech_test_clean", "test-clean"),
        ("librispeech_test_other", "test-other"),
    ):
        data_dir = written[name]
        assert validate_data_dir(data_dir, sample_rate=16000) == 4
        assert not (data_dir / "segments").exists()  # whole flac files, named in place
        assert read_table(data_dir / "text") == transcripts[part]
        utt2spk = read_table(data_dir / "utt2spk")
        assert all(spk == utt.split("-")[0] for utt, spk in utt2spk.items())
        for utt, path in read_wav_scp(data_dir).items():
            assert path == str(
                root / "LibriSpeech" / part / utt.split("-")[0] / utt.split("-")[1] / f"{utt}.flac"
            )
            audio, rate = soundfile.read(path)
            assert rate == 16000 and audio.ndim == 1 and len(audio) > 8000


def test_the_registry_lists_librispeech_with_its_benchmarks():
    assert "librispeech" in CORPUS_MODULES  # corpora() loads it as this module's CORPUS
    corpus = librispeech.CORPUS
    assert corpus.key == "librispeech"
    assert corpus.benchmarks == (
        ("librispeech_test_clean", "LS clean"),
        ("librispeech_test_other", "LS other"),
    )
    assert corpus.prepare is librispeech.prepare


def test_parts_and_combined_sets(corpus, tmp_path):
    root, transcripts = corpus
    parts = librispeech.prepare_parts(
        root / "LibriSpeech", ["train-clean-100", "dev-clean"], tmp_path
    )
    assert parts == {
        "train-clean-100": tmp_path / "train_clean_100",
        "dev-clean": tmp_path / "dev_clean",
    }
    assert read_table(parts["dev-clean"] / "text") == transcripts["dev-clean"]
    combined = librispeech.prepare_sets(
        root, {"test": ["test-clean", "test-other"]}, tmp_path / "sets"
    )["test"]
    assert read_table(combined / "text") == {
        **transcripts["test-clean"],
        **transcripts["test-other"],
    }
    assert validate_data_dir(combined) == 8


def test_a_missing_part_is_named_before_anything_is_written(corpus, tmp_path):
    root, _ = corpus
    with pytest.raises(CorpusError, match=r"LibriSpeech/dev-other: missing \(unpack dev-other"):
        librispeech.prepare_parts(root, ["dev-clean", "dev-other"], tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(CorpusError, match="no LibriSpeech/ directory"):
        librispeech.prepare(tmp_path, tmp_path / "out", num_jobs=1)
    with pytest.raises(CorpusError, match="not a LibriSpeech part"):
        librispeech.prepare_parts(root, ["train-clean-5000"], tmp_path / "out")


def test_a_part_without_transcripts_is_refused(corpus, tmp_path):
    root, _ = corpus
    copy = tmp_path / "copy"
    shutil.copytree(root / "LibriSpeech" / "test-clean", copy / "LibriSpeech" / "test-clean")
    shutil.copytree(root / "LibriSpeech" / "test-other", copy / "LibriSpeech" / "test-other")
    for path in (copy / "LibriSpeech" / "test-other").rglob("*.trans.txt"):
        path.unlink()
    with pytest.raises(CorpusError, match=r"test-other: no <speaker>/<chapter>/\*\.trans\.txt"):
        librispeech.prepare(copy, tmp_path / "out", num_jobs=1)
