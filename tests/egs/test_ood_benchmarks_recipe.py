"""The out-of-domain benchmark recipe on given Kaldi dirs (--test_sets): a stereo
recording cut by segments and plain files at another rate are formatted, decoded by a
tiny model and scored into the per-benchmark and average WER table, as a non-root user in
an environment where the plugin is installed from its wheel, with the model's experiment dir
outside any recipe."""

from pathlib import Path

import numpy as np
import pytest
import soundfile
import yaml
from conftest import make_experiment

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
def test_the_recipes_user_is_not_root(user_environment):
    if user_environment.non_root_reason:
        pytest.skip(f"the recipes' tests run as root here: {user_environment.non_root_reason}")
    result = user_environment.run(["id", "-u"], cwd=user_environment.work)
    assert result.returncode == 0 and result.stdout.strip() != "0"


@pytest.mark.e2e
def test_test_sets_are_formatted_decoded_and_scored(user_environment):
    work = user_environment.work / "ood"
    # An experiment dir whose config names its statistics relative to the dir training ran in
    # (ESPnet's convention), here the dir above exp/: found from the recipe dir all the same.
    experiment = make_experiment(work / "model")
    config = yaml.safe_load((experiment / "config.yaml").read_text())
    config["normalize_conf"]["stats_file"] = "stats/feats_stats.npz"
    (experiment / "config.yaml").write_text(yaml.safe_dump(config))
    meetings, reads = make_sets(work / "sets")
    user_environment.give(work)
    result = user_environment.run(
        ["bash", str(RECIPE / "run.sh"), "--models", str(experiment),
         "--test_sets", f"{meetings} {reads}", "--sample_rate", "8000",
         "--data_dir", str(work / "data"), "--exp_dir", str(work / "exp"),
         "--results_file", str(work / "RESULTS.md")],
        cwd=work,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    venv = user_environment.venv
    assert f"=== python: {venv}/bin/python (espnet_omnirouter: {venv}/lib/" in result.stdout
    written_by_root = (work / "RESULTS.md").stat().st_uid == 0
    assert written_by_root == bool(user_environment.non_root_reason)
    for name, count in (("meetings", 3), ("reads", 2)):
        assert validate_data_dir(work / "data" / name, sample_rate=8000) == count
    durations = {
        line.split()[0]: soundfile.info(line.split()[1]).duration
        for line in (work / "data" / "meetings" / "wav.scp").read_text().splitlines()
    }
    assert durations == pytest.approx({"a-1": 1.2, "a-2": 1.3, "b-1": 1.5})
    decoded = experiment / "decode_ood" / "ctc_greedy"
    assert sorted(p.name for p in decoded.iterdir()) == ["meetings", "reads"]
    assert "[decode] meetings (job 2/2): 1 utterances" in result.stdout  # progress per set
    table = (work / "RESULTS.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| model"))
    assert "| meetings | reads | **average** |" in header
    assert next(line for line in table.splitlines() if line.startswith("| omni"))
    assert "Utterances: meetings 3, reads 2." in table
    assert f"Command: `./run.sh --models {experiment} " in table  # the table names its command
    assert "Modes: ctc_greedy." in table  # the mode bin/decode chose for a CTC-only model
