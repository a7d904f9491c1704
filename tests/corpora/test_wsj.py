"""WSJ eval92: from fabricated WSJ0 discs to a Kaldi dir."""

from pathlib import Path

import numpy as np
import pytest
from fabricate_eval2000 import write_sphere
from fabricate_wsj import RATE, fabricate_wsj

from espnet_omnirouter.corpora import wsj
from espnet_omnirouter.corpora.registry import CorpusError
from espnet_omnirouter.data.format_data_dir import read_recording
from espnet_omnirouter.data.kaldi_dir import validate_data_dir


def read_table(path: Path) -> dict:
    return dict(line.split(maxsplit=1) for line in path.read_text().splitlines())


def test_prepare_follows_the_index_and_dot_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no sph2pipe: PCM sphere is read by path
    corpus, expected = fabricate_wsj(tmp_path)
    dirs = wsj.prepare(corpus, tmp_path / "data", num_jobs=1)

    data = tmp_path / "data" / "wsj_eval92"
    assert dirs == {"wsj_eval92": data}
    assert validate_data_dir(data) == 3
    assert read_table(data / "text") == {utt: text for utt, (text, _) in expected.items()}
    assert read_table(data / "utt2spk") == {utt: utt[:3] for utt in expected}
    assert not (data / "segments").exists()
    wav = read_table(data / "wav.scp")
    for utt, (_, audio) in expected.items():
        assert wav[utt] == str(corpus / "11-14.1" / "wsj0" / "si_et_20" / utt[:3] / f"{utt}.wv1")
        samples, rate = read_recording(wav[utt])
        assert rate == RATE
        np.testing.assert_allclose(samples[:, 0], audio, atol=1.5 / 32768)
    assert "[prepare] wsj_eval92: 3 utterances, 0.0 h" in capsys.readouterr().out


def test_sph2pipe_on_path_gives_kaldi_entries(tmp_path, monkeypatch):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "sph2pipe").write_text('#!/bin/sh\nexec sox "$6" -t wav - remix "$5"\n')
    (tools / "sph2pipe").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tools}:/usr/bin:/bin")
    corpus, expected = fabricate_wsj(tmp_path)
    wsj.prepare(corpus, tmp_path / "data", num_jobs=1)

    wav = read_table(tmp_path / "data" / "wsj_eval92" / "wav.scp")
    for utt, (_, audio) in expected.items():
        path = corpus / "11-14.1" / "wsj0" / "si_et_20" / utt[:3] / f"{utt}.wv1"
        assert wav[utt] == f"{tools / 'sph2pipe'} -f wav -p -c 1 {path} |"
        samples, _ = read_recording(wav[utt])
        np.testing.assert_allclose(samples[:, 0], audio, atol=1.5 / 32768)


def test_transcript_text_drops_noises_pauses_and_quoting():
    text = "[<door_slam] It\\'s [phone_ring/] <a> deal . [/phone_ring] ~"
    assert wsj.transcript_text(text) == "It's a deal"


def test_shorten_wv1_without_sph2pipe_says_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    corpus, _ = fabricate_wsj(tmp_path)
    wv1 = corpus / "11-14.1" / "wsj0" / "si_et_20" / "441" / "441c0201.wv1"
    write_sphere(wv1, np.zeros(1600, np.float32), coding="pcm,embedded-shorten-v1.1", rate=RATE)
    with pytest.raises(
        CorpusError, match=r"441c0201\.wv1 \(pcm,embedded-shorten.*install sph2pipe"
    ):
        wsj.prepare(corpus, tmp_path / "data", num_jobs=1)


def test_missing_audio_is_named(tmp_path):
    corpus, _ = fabricate_wsj(tmp_path)
    (corpus / "11-14.1" / "wsj0" / "si_et_20" / "441" / "441c0201.wv1").unlink()
    with pytest.raises(CorpusError, match=r"missing 11-14\.1/wsj0/si_et_20/441/441c0201\.wv1"):
        wsj.prepare(corpus, tmp_path / "data", num_jobs=1)


def test_missing_transcript_is_named(tmp_path):
    corpus, _ = fabricate_wsj(tmp_path)
    (corpus / "11-14.1" / "wsj0" / "si_et_20" / "441" / "441c0200.dot").unlink()
    with pytest.raises(CorpusError, match=r"missing transcripts 441c0200\.dot"):
        wsj.prepare(corpus, tmp_path / "data", num_jobs=1)


def test_missing_index_is_named(tmp_path):
    with pytest.raises(CorpusError, match=r"--wsj_root .*missing 11-13\.1/wsj0/doc/indices"):
        wsj.prepare(tmp_path, tmp_path / "data", num_jobs=1)
