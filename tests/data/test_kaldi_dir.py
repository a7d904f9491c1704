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
