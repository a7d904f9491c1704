"""Bad input is reported before training or decoding, every problem with its file, line
and utterance id, and nothing is written to the output directory."""

import subprocess
import sys

import numpy as np
import pytest
import soundfile
import yaml

from espnet_omnirouter.data.validation import InputDataError, validate_task_data
from espnet_omnirouter.train.preflight import accepted_keywords


def tone(rate: int, seconds: float = 0.3) -> np.ndarray:
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(int(rate * seconds)) / rate)).astype("f4")


def make_bad_set(root):
    """A data set with one instance of every problem the checks know about."""
    root.mkdir(parents=True, exist_ok=True)
    soundfile.write(root / "good.wav", tone(8000), 8000)
    soundfile.write(root / "rate.wav", tone(16000), 16000)
    soundfile.write(root / "empty.wav", np.zeros(0, "f4"), 8000)
    (root / "broken.wav").write_bytes(b"RIFF1234WAVEjunk")
    (root / "wav.scp").write_text(
        f"a_good {root}/good.wav\n"
        f"b_rate {root}/rate.wav\n"
        f"c_empty {root}/empty.wav\n"
        f"d_broken {root}/broken.wav\n"
        f"e_missing {root}/missing.wav\n"
        f"a_good {root}/good.wav\n"
        f"f_no_text {root}/good.wav\n"
    )
    (root / "text").write_bytes(
        "a_good ab\nb_rate ba\nc_empty ab\nd_broken \ne_missing caf\xe9\n".encode()
        + b"g_latin1 caf\xe9\n"
    )
    return [(str(root / "wav.scp"), "speech", "sound"), (str(root / "text"), "text", "text")]


EXPECTED = [
    "wav.scp:2: b_rate: sample rate 16000 Hz, the model expects 8000 Hz",
    "wav.scp:3: c_empty: zero-length audio",
    "wav.scp:4: d_broken: unreadable audio",
    "wav.scp:5: e_missing: audio file not found",
    "wav.scp:6: a_good: duplicate id (first on line 1)",
    "text:4: d_broken: empty transcript",
    "text:6: not UTF-8 (byte 0xe9 at column 13)",
    "wav.scp:7: f_no_text: not in",
]


def test_every_problem_is_listed_with_file_line_and_id(tmp_path):
    with pytest.raises(InputDataError) as error:
        validate_task_data(make_bad_set(tmp_path), sample_rate=8000, what="train set")
    message = str(error.value)
    assert message.startswith(f"train set: {len(EXPECTED)} problem(s):")
    for expected in EXPECTED:
        assert expected in message, expected


def test_a_good_set_passes(tmp_path):
    soundfile.write(tmp_path / "a.wav", tone(8000), 8000)
    (tmp_path / "wav.scp").write_text(f"u1 {tmp_path}/a.wav\nu2 {tmp_path}/a.wav\n")
    (tmp_path / "text").write_text("u1 ab\nu2 café\n")
    entries = [
        (str(tmp_path / "wav.scp"), "speech", "sound"),
        (str(tmp_path / "text"), "text", "text"),
    ]
    assert validate_task_data(entries, sample_rate=8000) == 2


def test_keywords_follow_kwargs_to_espnet_base_classes():
    from espnet2.asr.encoder.conformer_encoder import ConformerEncoder

    from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder

    keywords = accepted_keywords(U2ppConformerEncoder)
    assert {"moe_conf", "static_chunk_size", "cnn_module_kernel", "output_size"} <= keywords
    assert accepted_keywords(ConformerEncoder) < keywords
    assert accepted_keywords(torch_module_with_kwargs()) is None


def torch_module_with_kwargs():
    import torch

    class Loose(torch.nn.Module):
        def __init__(self, size: int, **kwargs):
            super().__init__(**kwargs)

    return Loose


def asr_train(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "espnet_omnirouter.bin.asr_train", *args],
        cwd=cwd, capture_output=True, text=True,
    )  # fmt: skip


@pytest.mark.e2e
def test_asr_train_stops_before_writing_anything(tiny_workdir, tmp_path):
    import tiny_asr

    bad_set = make_bad_set(tmp_path / "bad")
    exp = tmp_path / "exp"
    args = tiny_asr.train_args(tiny_workdir, "switch", exp)
    data_option = args.index("--train_data_path_and_name_and_type")
    args[data_option + 1] = ",".join(bad_set[0])
    args[data_option + 3] = ",".join(bad_set[1])
    result = asr_train(*args, cwd=tiny_workdir)
    assert result.returncode == 2
    assert "asr_train: error: asr_train cannot start:" in result.stderr
    for expected in EXPECTED:
        assert expected in result.stderr, expected
    assert not exp.exists()

    config_path = args[args.index("--config") + 1]
    config = yaml.safe_load(open(config_path))
    config["encoder_conf"]["atention_heads"] = 2
    config["encoder_conf"]["moe_conf"]["num_expert"] = 4
    config["optim_conf"]["learning_rate"] = 1.0
    with open(config_path, "w") as stream:
        yaml.safe_dump(config, stream)
    result = asr_train(*args, cwd=tiny_workdir)
    assert result.returncode == 2
    for expected in (
        f"--config {config_path}: encoder_conf: unknown key(s) ['atention_heads'] for "
        "MoEConformerEncoder",
        "encoder_conf.moe_conf: unknown key(s) ['num_expert']",
        "optim_conf: unknown key(s) ['learning_rate'] for Adam",
    ):
        assert expected in result.stderr, expected
    assert not exp.exists()


@pytest.mark.e2e
def test_decode_checks_the_sets_and_the_sample_rate_first(experiment, tmp_path):
    from espnet_omnirouter.data.kaldi_dir import Utterance, write_data_dir

    soundfile.write(tmp_path / "16k.wav", tone(16000), 16000)
    write_data_dir([Utterance("u1", "s", str(tmp_path / "16k.wav"), "ab")], tmp_path / "set")
    out = tmp_path / "decode"
    result = subprocess.run(
        [sys.executable, "-m", "espnet_omnirouter.bin.decode", str(tmp_path / "set"),
         "--asr_train_config", str(experiment / "config.yaml"),
         "--asr_model_file", str(experiment / "valid.loss.ave.pth"), "--output_dir", str(out)],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2
    assert "wav.scp:1: u1: sample rate 16000 Hz, the model expects 8000 Hz" in result.stderr
    assert not out.exists()
