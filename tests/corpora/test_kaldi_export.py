"""lhotse manifests -> Kaldi dirs: whole mono files in place, channels through sox pipes,
segments where utterances are parts of recordings."""

import numpy as np
import pytest
import soundfile
from lhotse import Recording, RecordingSet, SupervisionSegment, SupervisionSet

from espnet_omnirouter.corpora.kaldi_export import write_kaldi_dir
from espnet_omnirouter.data.format_data_dir import read_recording
from espnet_omnirouter.data.kaldi_dir import DataDirError


def test_whole_files_stay_plain_paths(tmp_path):
    soundfile.write(tmp_path / "a.flac", np.zeros(16000, np.float32), 16000)
    recording = Recording.from_file(tmp_path / "a.flac", recording_id="a")
    supervisions = [SupervisionSegment("a", "a", 0, recording.duration, text=" Hi\n there ")]
    assert (
        write_kaldi_dir(
            RecordingSet.from_recordings([recording]),
            SupervisionSet.from_segments(supervisions),
            tmp_path / "out",
        )
        == 1
    )
    assert (tmp_path / "out" / "wav.scp").read_text() == f"a {tmp_path}/a.flac\n"
    assert (tmp_path / "out" / "text").read_text() == "a Hi there\n"
    assert not (tmp_path / "out" / "segments").exists()


def test_channels_and_segments(tmp_path):
    stereo = np.stack([np.full(24000, 0.25), np.full(24000, -0.5)], axis=1).astype(np.float32)
    soundfile.write(tmp_path / "s.wav", stereo, 8000)
    recording = Recording.from_file(tmp_path / "s.wav", recording_id="s")
    supervisions = [
        SupervisionSegment("s-b", "s", 1.0, 0.5, channel=1, text="two", speaker="B"),
        SupervisionSegment("s-a", "s", 0.5, 1.0, channel=0, text="one", speaker="A"),
        SupervisionSegment("s-n", "s", 2.0, 0.5, channel=0, text="", speaker="A"),
    ]
    count = write_kaldi_dir(
        RecordingSet.from_recordings([recording]),
        SupervisionSet.from_segments(supervisions),
        tmp_path / "out",
    )
    assert count == 2  # the supervision without text is left out
    out = tmp_path / "out"
    assert (out / "segments").read_text() == "s-a s_ch0 0.500 1.500\ns-b s_ch1 1.000 1.500\n"
    entries = dict(line.split(" ", 1) for line in (out / "wav.scp").read_text().splitlines())
    samples, rate = read_recording(entries["s_ch1"])
    assert rate == 8000 and samples.shape == (24000, 1)
    assert np.allclose(samples, -0.5, atol=1e-3)
    assert (out / "spk2utt").read_text() == "A s-a\nB s-b\n"


def test_duplicate_ids_are_refused(tmp_path):
    soundfile.write(tmp_path / "a.wav", np.zeros(16000, np.float32), 16000)
    recording = Recording.from_file(tmp_path / "a.wav", recording_id="a")
    supervisions = [
        SupervisionSegment("u 1", "a", 0.0, 0.5, text="one"),
        SupervisionSegment("u_1", "a", 0.5, 0.5, text="two"),  # the same Kaldi id
    ]
    with pytest.raises(DataDirError, match="two supervisions have the id u_1"):
        write_kaldi_dir(
            RecordingSet.from_recordings([recording]),
            SupervisionSet.from_segments(supervisions),
            tmp_path / "out",
        )
