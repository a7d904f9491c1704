"""Tiny ASR experiments for end-to-end tests: tone "speech" over a 4-letter alphabet, its
feature statistics, and training through the plugin's asr_train wrapper."""

import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import numpy as np
import soundfile
import yaml
from conftest import TINY_CONFORMER

from espnet_omnirouter.data.kaldi_dir import Utterance, write_data_dir

SAMPLE_RATE = 8000
LETTERS = "abcd"
UTTERANCES = ["ab", "bad", "cab", "dab", "abc", "dcba", "bb", "cad", "add", "ca"]


def synthesize(text: str, rng: np.random.Generator) -> np.ndarray:
    """One 0.12 s tone per letter (a distinct pitch each) plus a little noise."""
    t = np.arange(int(0.12 * SAMPLE_RATE)) / SAMPLE_RATE
    tones = [np.sin(2 * np.pi * (300 + 250 * LETTERS.index(c)) * t) for c in text]
    audio = 0.5 * np.concatenate(tones) + 0.01 * rng.standard_normal(len(t) * len(text))
    return audio.astype(np.float32)


def run(module: str, *args: str, cwd: Path) -> str:
    """Run a plugin entry point; return its log (stderr)."""
    result = subprocess.run(
        [sys.executable, "-m", f"espnet_omnirouter.bin.{module}", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, f"{module} failed:\n{result.stderr[-4000:]}"
    assert "Error loading" not in result.stderr  # no nltk download errors in the log
    return result.stderr


def data_args(data: Path, prefix: str) -> List[str]:
    return [
        f"--{prefix}_data_path_and_name_and_type",
        f"{data}/wav.scp,speech,sound",
        f"--{prefix}_data_path_and_name_and_type",
        f"{data}/text,text,text",
    ]


def make_data_dir(root: Path) -> Path:
    """The tone utterances of ``UTTERANCES`` as ``root/wav/utt<NN>.wav`` and the Kaldi data
    dir ``root/data``, which is returned."""
    data = root / "data"
    (root / "wav").mkdir(parents=True)
    rng = np.random.default_rng(0)
    utterances = []
    for index, sentence in enumerate(UTTERANCES):
        utt = f"utt{index:02d}"
        path = root / "wav" / f"{utt}.wav"
        soundfile.write(path, synthesize(sentence, rng), SAMPLE_RATE)
        utterances.append(Utterance(utt, "speaker", str(path), sentence))
    write_data_dir(utterances, data)
    return data


def make_workdir(root: Path) -> Path:
    """Kaldi data dir, token list, base config (dense, hybrid CTC/attention) and feature
    statistics under ``root``, shared by every model trained there."""
    data = make_data_dir(root)
    (root / "tokens.txt").write_text("\n".join(["<blank>", "<unk>", *LETTERS, "<sos/eos>"]) + "\n")
    config = {
        "frontend_conf": {"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": SAMPLE_RATE},
        "encoder": "moe_conformer",
        "encoder_conf": {**TINY_CONFORMER, "moe_conf": {"type": "dense"}},
        "decoder": "transformer",
        "decoder_conf": {"attention_heads": 2, "linear_units": 24, "num_blocks": 1},
        "model": "moe_espnet",
        "model_conf": {"ctc_weight": 0.5},
        "batch_type": "sorted",
        "batch_size": 5,
        "max_epoch": 2,
        "optim": "adam",
        "optim_conf": {"lr": 0.002},
        "num_att_plot": 0,
    }
    (root / "base.yaml").write_text(yaml.safe_dump(config))
    run(
        "asr_train",
        "--collect_stats",
        "true",
        "--config",
        str(root / "base.yaml"),
        *common_args(root),
        *data_args(data, "train"),
        *data_args(data, "valid"),
        "--train_shape_file",
        str(data / "wav.scp"),
        "--valid_shape_file",
        str(data / "wav.scp"),
        "--output_dir",
        str(root / "stats"),
        cwd=root,
    )
    return root


def common_args(workdir: Path) -> List[str]:
    return [
        "--use_preprocessor",
        "true",
        "--token_type",
        "char",
        "--token_list",
        str(workdir / "tokens.txt"),
        "--ngpu",
        "0",
        "--num_workers",
        "0",
    ]


def train(
    workdir: Path, moe_type: str, exp: Path, *extra_args: str, updates: Optional[dict] = None
) -> str:
    """Train the base config with ``moe_conf: {type: moe_type, num_experts: 2}`` and the
    top-level ``updates`` into ``exp``; returns the training log."""
    return run(
        "asr_train", *train_args(workdir, moe_type, exp, *extra_args, updates=updates), cwd=workdir
    )


def train_args(
    workdir: Path, moe_type: str, exp: Path, *extra_args: str, updates: Optional[dict] = None
) -> List[str]:
    """The ``asr_train`` options of ``train`` (its config written under ``workdir``)."""
    data, stats = workdir / "data", workdir / "stats" / "train"
    config = yaml.safe_load((workdir / "base.yaml").read_text())
    config["encoder_conf"]["moe_conf"] = {"type": moe_type, "num_experts": 2}
    config.update(updates or {})
    config_path = workdir / f"train_{exp.name}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    return [
        "--config",
        str(config_path),
        *common_args(workdir),
        "--normalize",
        "global_mvn",
        "--normalize_conf",
        f"stats_file={stats}/feats_stats.npz",
        *data_args(data, "train"),
        *data_args(data, "valid"),
        "--train_shape_file",
        str(stats / "speech_shape"),
        "--train_shape_file",
        str(stats / "text_shape"),
        "--valid_shape_file",
        str(stats / "speech_shape"),
        "--valid_shape_file",
        str(stats / "text_shape"),
        "--output_dir",
        str(exp),
        *extra_args,
    ]
