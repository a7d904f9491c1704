import numpy as np
import pytest
import soundfile

from espnet_omnirouter.data.kaldi_dir import (
    DataDirError,
    Utterance,
    read_wav_scp,
    validate_data_dir,
    write_data_dir,
)


def make_utterances(tmp_path, count=3):
    utterances = []
    for index in range(count):
        path = tmp_path / f"{index}.wav"
        soundfile.write(path, np.zeros(160, dtype=np.float32), 16000)
        speaker = f"spk{index % 2}"
        utterances.append(Utterance(f"{speaker}-utt{index}", speaker, str(path), "hi"))
    return utterances


def test_written_dir_is_sorted_and_valid(tmp_path):
    target = tmp_path / "data" / "set"
    write_data_dir(reversed(make_utterances(tmp_path)), target)
    assert validate_data_dir(target) == 3
    assert (target / "spk2utt").read_text() == "spk0 spk0-utt0 spk0-utt2\nspk1 spk1-utt1\n"
    assert not (target.parent / "set.tmp").exists()


def test_every_problem_is_reported_with_file_and_id(tmp_path):
    target = tmp_path / "set"
    write_data_dir(make_utterances(tmp_path), target)
    (target / "text").write_text("spk0-utt0 hi\nspk0-utt2\nspk1-utt1 hi\n")
    (tmp_path / "1.wav").write_bytes(b"not audio")
    with pytest.raises(DataDirError) as error:
        validate_data_dir(target)
    message = str(error.value)
    assert f"{target / 'text'}:2: spk0-utt2: empty transcript" in message
    assert "spk1-utt1: unreadable audio" in message


def test_unsorted_duplicate_and_mismatched_ids(tmp_path):
    target = tmp_path / "set"
    write_data_dir(make_utterances(tmp_path), target)
    (target / "wav.scp").write_text(
        (target / "wav.scp").read_text().splitlines()[1] + "\n" + (target / "wav.scp").read_text()
    )
    (target / "utt2spk").write_text("spk0-utt0 spk0\n")
    with pytest.raises(DataDirError) as error:
        validate_data_dir(target, check_audio=False)
    message = str(error.value)
    assert "wav.scp: not sorted" in message
    assert "wav.scp:3: spk0-utt2: duplicate id (first on line 1)" in message
    assert f"wav.scp:4: spk1-utt1: not in {target / 'utt2spk'}" in message


def test_failed_write_leaves_previous_dir_untouched(tmp_path):
    target = tmp_path / "set"
    write_data_dir(make_utterances(tmp_path), target)
    broken = [Utterance("u0", "s", str(tmp_path / "missing.wav"), "hi")]
    with pytest.raises(DataDirError):
        write_data_dir(broken, target)
    assert validate_data_dir(target) == 3


def test_read_wav_scp_checks_the_dir_but_not_the_audio(tmp_path):
    utterances = make_utterances(tmp_path)
    write_data_dir(utterances, tmp_path / "set")
    (tmp_path / "0.wav").write_bytes(b"not audio")  # read later, by the decoder
    assert read_wav_scp(tmp_path / "set") == {u.utt_id: u.wav_path for u in utterances}
    (tmp_path / "set" / "utt2spk").write_text("spk0-utt0 spk0\n")
    with pytest.raises(DataDirError, match="wav.scp:2: spk0-utt2: not in .*utt2spk"):
        read_wav_scp(tmp_path / "set")


def test_segments_name_recordings_of_wav_scp(tmp_path):
    target = tmp_path / "set"
    target.mkdir()
    files = {
        "wav.scp": "rec1 sox x.wav -t wav - remix 1 |\n",
        "segments": "u1 rec1 0.0 1.5\nu2 rec2 1.0 2.0\nu3 rec1 3.0 3.0\n",
        "text": "u1 a\nu2 b\nu3 c\n",
        "utt2spk": "u1 s\nu2 s\nu3 s\n",
        "spk2utt": "s u1 u2 u3\n",
    }
    for name, text in files.items():
        (target / name).write_text(text)
    with pytest.raises(DataDirError) as error:
        validate_data_dir(target)  # the pipe is not run
    message = str(error.value)
    assert "segments:2: u2: recording rec2 not in" in message
    assert "segments:3: u3: segment 3.0-3.0 s is empty" in message
    assert "2 problem(s)" in message
    (target / "segments").write_text("u1 rec1 0.0 1.5\nu2 rec1 1.0 2.0\nu3 rec1 3.0 3.5\n")
    assert validate_data_dir(target) == 3
