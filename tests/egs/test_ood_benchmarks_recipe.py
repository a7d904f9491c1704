"""The out-of-domain benchmark recipe on given Kaldi dirs (--test_sets): a stereo
recording cut by segments and plain files at another rate are formatted, decoded by a
tiny model and scored into the per-benchmark and average WER table."""

import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile

from espnet_omnirouter.data.kaldi_dir import Utterance, validate_data_dir, write_data_dir
from espnet_omnirouter.utils.files import write_text_atomically

RECIPE = Path(__file__).resolve().parents[2] / "egs" / "ood_benchmarks" / "asr1"


def tone(seconds: float, rate: int, pitch: float) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.3 * np.sin(2 * np.pi * pitch * t)).astype(np.float32)


def make_sets(root: Path):
    """``meetings``: one 16 kHz stereo recording, a speaker per channel, cut by segments;
    ``reads``: two 22.05 kHz files, one utterance each."""
    root.mkdir()
    stereo = np.stack([tone(3.0, 16000, 300), tone(3.0, 16000, 500)], axis=1)
    soundfile.write(root / "meeting.wav", stereo, 16000)
    meetings = root / "meetings"
    files = {
        "wav.scp": f"m_ch0 sox {root}/meeting.wav -t wav - remix 1 |\n"
        f"m_ch1 sox {root}/meeting.wav -t wav - remix 2 |\n",
        "segments": "a-1 m_ch0 0.20 1.40\na-2 m_ch0 1.60 2.90\nb-1 m_ch1 0.50 2.00\n",
        "text": "a-1 Hello, there!\na-2 UH good morning\nb-1 [laughter] Twenty-one\n",
        "utt2spk": "a-1 a\na-2 a\nb-1 b\n",
        "spk2utt": "a a-1 a-2\nb b-1\n",
    }
    for name, text in files.items():
        write_text_atomically(meetings / name, text)
    utterances = []
    for index, text in enumerate(["ab", "cab"]):
        path = root / f"read{index}.wav"
        soundfile.write(path, tone(1.0 + index, 22050, 400), 22050)
        utterances.append(Utterance(f"r{index}", "s", str(path), text))
    write_data_dir(utterances, root / "reads")
    return meetings, root / "reads"


@pytest.mark.e2e
def test_test_sets_are_formatted_decoded_and_scored(experiment, tmp_path):
    meetings, reads = make_sets(tmp_path / "sets")
    work = tmp_path / "work"
    result = subprocess.run(
        ["bash", str(RECIPE / "run.sh"), "--models", str(experiment),
         "--test_sets", f"{meetings} {reads}", "--sample_rate", "8000",
         "--data_dir", str(work / "data"), "--exp_dir", str(work / "exp"),
         "--results_file", str(work / "RESULTS.md")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for name, count in (("meetings", 3), ("reads", 2)):
        assert validate_data_dir(work / "data" / name, sample_rate=8000) == count
    durations = {
        line.split()[0]: soundfile.info(line.split()[1]).duration
        for line in (work / "data" / "meetings" / "wav.scp").read_text().splitlines()
    }
    assert durations == pytest.approx({"a-1": 1.2, "a-2": 1.3, "b-1": 1.5})
    decoded = experiment / "decode_ood" / "ctc_greedy"
    assert sorted(p.name for p in decoded.iterdir()) == ["meetings", "reads"]
    table = (work / "RESULTS.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| model"))
    assert "| meetings | reads | **average** |" in header
    assert next(line for line in table.splitlines() if line.startswith("| omni"))
    assert "Utterances: meetings 3, reads 2." in table
