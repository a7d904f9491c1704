"""A tiny U2++ MoE model trained through the plugin's asr_train wrapper, then decoded by
bin/decode in every mode, full context and chunk by chunk."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_CONFORMER
from tiny_asr import make_workdir, run, train

from espnet_omnirouter.scoring.wer import read_kaldi_text

pytestmark = pytest.mark.e2e

MOE = {"type": "u2pp", "num_experts": 4}
U2PP = {
    "encoder": "u2pp_conformer",
    "encoder_conf": {
        **TINY_CONFORMER,
        "rel_pos_type": "legacy",
        "pos_enc_layer_type": "rel_pos",
        "selfattention_layer_type": "rel_selfattn",
        "cnn_module_kernel": 5,
        "moe_conf": MOE,
    },
    "decoder": "bi_transformer",
    "decoder_conf": {
        "attention_heads": 2, "linear_units": 24, "num_blocks": 1, "r_num_blocks": 1,
        "moe_conf": MOE,
    },
    "model": "u2pp",
    "model_conf": {"ctc_weight": 0.3, "reverse_weight": 0.3},
}  # fmt: skip
MODES = ["ctc_greedy", "ctc_prefix_beam_search", "attention_rescoring", "beam"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    workdir = make_workdir(tmp_path_factory.mktemp("u2pp"))
    exp = workdir / "exp_u2pp"
    log = train(workdir, "u2pp", exp, updates=U2PP)
    assert "loss_att_r2l" in log and "moe_dec0_ffn_entropy" in log and "moe_rdec0_ffn" in log
    return exp


def decode(exp: Path, output: Path, *args: str) -> str:
    data = exp.parent / "data"
    return run(
        "decode", str(data), "--asr_train_config", str(exp / "config.yaml"),
        "--asr_model_file", str(exp / "2epoch.pth"), "--output_dir", str(output),
        "--nj", "1", *args, cwd=exp.parent,
    )  # fmt: skip


def test_every_mode_decodes_every_utterance(trained):
    decode(trained, trained / "decode", "--modes", *MODES)
    references = read_kaldi_text(trained.parent / "data" / "text")
    for mode in MODES:
        hypotheses = read_kaldi_text(trained / "decode" / mode / "data" / "text")
        assert hypotheses.keys() == references.keys(), mode
        assert float((trained / "decode" / mode / "data" / "rtf").read_text()) > 0


def test_streaming_gives_the_chunk_masked_result(trained):
    chunk = ["--decoding_chunk_size", "2", "--num_decoding_left_chunks", "1"]
    decode(trained, trained / "chunk2", "--modes", "attention_rescoring", "streaming", *chunk)
    masked = read_kaldi_text(trained / "chunk2" / "attention_rescoring" / "data" / "text")
    streamed = read_kaldi_text(trained / "chunk2" / "streaming" / "data" / "text")
    assert streamed == masked


def test_streaming_needs_a_chunk_size(trained):
    result = subprocess.run(
        [sys.executable, "-m", "espnet_omnirouter.bin.decode", str(trained.parent / "data"),
         "--asr_train_config", str(trained / "config.yaml"), "--asr_model_file",
         str(trained / "2epoch.pth"), "--output_dir", str(trained / "x"), "--modes", "streaming"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 2 and "streaming needs a chunk size >= 1" in result.stderr


def test_transcribe_streams_like_bin_decode(trained):
    chunk = ["--decoding_chunk_size", "2"]
    decode(trained, trained / "stream2", "--modes", "streaming", *chunk)
    expected = read_kaldi_text(trained / "stream2" / "streaming" / "data" / "text")
    wav = read_kaldi_text(trained.parent / "data" / "wav.scp")["utt03"]
    result = subprocess.run(
        [sys.executable, "-m", "espnet_omnirouter.bin.transcribe", "--model", str(trained),
         "--model_file", "2epoch.pth", "--mode", "streaming", "--chunk_size", "2", wav],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == f"utt03 {expected['utt03']}\n"


def test_only_models_that_stream_get_a_streaming_pass(trained, tmp_path):
    """``--streaming_chunk_size`` adds a chunk-by-chunk pass for a causal U2++ model; a
    ``causal: false`` one (its convolution looks ahead) decodes at full context only."""
    import argparse

    import torch
    import yaml
    from espnet2.tasks.asr import ASRTask

    config = yaml.safe_load((trained / "config.yaml").read_text())
    config["encoder_conf"]["causal"] = False
    lookahead = tmp_path / "exp_lookahead"
    lookahead.mkdir()
    (lookahead / "config.yaml").write_text(yaml.safe_dump(config))
    model = ASRTask.build_model(argparse.Namespace(**config))
    torch.save(model.state_dict(), lookahead / "2epoch.pth")
    stream = ["--modes", "ctc_greedy", "--streaming_chunk_size", "2"]
    for exp, streams in ((trained, True), (lookahead, False)):
        output = tmp_path / f"decode_{exp.name}"
        data = trained.parent / "data"
        run(
            "decode", str(data), "--asr_train_config", str(exp / "config.yaml"),
            "--asr_model_file", str(exp / "2epoch.pth"), "--output_dir", str(output),
            "--nj", "1", *stream, cwd=trained.parent,
        )  # fmt: skip
        assert (output / "ctc_greedy" / "data" / "text").is_file()
        assert (output / "chunk2").is_dir() == streams, exp.name
