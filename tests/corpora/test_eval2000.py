"""Hub5'00 Switchboard and CallHome: from a fabricated corpus in its LDC layout to two
Kaldi dirs."""

import os
from pathlib import Path

import numpy as np
import pytest
from fabricate_eval2000 import RATE, fabricate_eval2000, write_sphere

from espnet_omnirouter.corpora import eval2000
from espnet_omnirouter.corpora.registry import CorpusError
from espnet_omnirouter.data.format_data_dir import read_recording
from espnet_omnirouter.data.kaldi_dir import validate_data_dir

# sph2pipe's command line (-f wav, -p, -c N, -t from:, as Kaldi and lhotse call it),
# served by sox for PCM sphere files
FAKE_SPH2PIPE = """#!/bin/sh
remix=""
while [ $# -gt 1 ]; do
  case "$1" in
    -f|-t) shift ;;
    -c) remix="remix $2"; shift ;;
  esac
  shift
done
exec sox "$1" -t wav - $remix
"""


def read_table(path: Path) -> dict:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def check_dirs(corpus: Path, data: Path, expected: dict, entry) -> None:
    for benchmark, prefix in (("eval2000_swbd", "sw_"), ("eval2000_callhome", "en_")):
        mine = {utt: value for utt, value in expected.items() if utt.startswith(prefix)}
        assert validate_data_dir(data / benchmark) == len(mine)
        assert read_table(data / benchmark / "text") == {
            utt: text for utt, (_, _, text, _) in mine.items()
        }
        assert read_table(data / benchmark / "utt2spk") == {
            utt: utt.split("_")[0] + "_" + utt.split("_")[1] for utt in mine
        }
        wav = read_table(data / benchmark / "wav.scp")
        segments = read_table(data / benchmark / "segments")
        assert segments.keys() == mine.keys()
        for utt, (conversation, channel, _, audio) in mine.items():
            recording, start, end = segments[utt].split()
            assert recording == f"{conversation}_ch{channel}"
            sph = corpus / "LDC2002S09" / "hub5e_00" / "english" / f"{conversation}.sph"
            assert wav[recording] == entry(sph, channel)
            samples, rate = read_recording(wav[recording])
            assert rate == RATE and samples.shape[1] == 1
            cut = samples[round(float(start) * RATE) : round(float(end) * RATE), 0]
            np.testing.assert_allclose(cut, audio, atol=1.5 / 32768)


def test_prepare_writes_switchboard_and_callhome(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no sph2pipe: PCM sphere is read by sox
    corpus, expected = fabricate_eval2000(tmp_path)
    dirs = eval2000.prepare(corpus, tmp_path / "data", num_jobs=1)

    data = tmp_path / "data"
    assert dirs == {name: data / name for name in ("eval2000_swbd", "eval2000_callhome")}
    check_dirs(corpus, data, expected, lambda sph, ch: f"sox {sph} -t wav - remix {ch + 1} |")
    out = capsys.readouterr().out
    assert "[prepare] eval2000_swbd: 2 utterances, 0.0 h" in out
    assert "[prepare] eval2000_callhome: 3 utterances, 0.0 h" in out


def test_sph2pipe_on_path_gives_kaldi_entries(tmp_path, monkeypatch):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "sph2pipe").write_text(FAKE_SPH2PIPE)
    (tools / "sph2pipe").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}{os.pathsep}/usr/bin:/bin")
    corpus, expected = fabricate_eval2000(tmp_path)
    eval2000.prepare(corpus, tmp_path / "data", num_jobs=1)

    sph2pipe = tools / "sph2pipe"
    check_dirs(
        corpus,
        tmp_path / "data",
        expected,
        lambda sph, ch: f"{sph2pipe} -f wav -p -c {ch + 1} {sph} |",
    )


def test_shorten_sphere_without_sph2pipe_says_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    corpus, _ = fabricate_eval2000(tmp_path)
    sph = corpus / "LDC2002S09" / "hub5e_00" / "english" / "sw_4390.sph"
    write_sphere(sph, np.zeros((800, 2), np.float32), coding="pcm,embedded-shorten-v2.00")
    assert eval2000.sphere_header(sph)["sample_coding"] == "pcm,embedded-shorten-v2.00"
    with pytest.raises(CorpusError, match=r"sw_4390\.sph \(pcm,embedded-shorten.*install sph2pipe"):
        eval2000.prepare(corpus, tmp_path / "data", num_jobs=1)


def test_transcript_text_drops_markup():
    line = "<contraction e_form=\"[it=>it]['s=>is]\">it's ((a)) {breath} %uh [[noise]] &Bob"
    assert eval2000.transcript_text(line) == "it's a uh Bob"


def test_missing_transcript_is_named(tmp_path):
    corpus, _ = fabricate_eval2000(tmp_path)
    (corpus / "LDC2002T43" / "reference" / "english" / "en_4156.txt").unlink()
    with pytest.raises(CorpusError, match=r"missing LDC2002T43/reference/english/en_4156\.txt"):
        eval2000.prepare(corpus, tmp_path / "data", num_jobs=1)


def test_missing_speech_is_named(tmp_path):
    with pytest.raises(CorpusError, match=r"--eval2000_root .*no LDC2002S09/hub5e_00/english"):
        eval2000.prepare(tmp_path, tmp_path / "data", num_jobs=1)
