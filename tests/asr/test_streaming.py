"""The runtime's StreamingRecognizer on an eager model (asr.decoding.eager_model): audio
fed in pieces gives the chunk-masked offline result, and its search is incremental."""

import argparse
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import TINY_CONFORMER

from espnet_omnirouter.asr.decoding.eager_model import EagerModel
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.runtime.ctc_search import CTCPrefixBeamSearch
from espnet_omnirouter.runtime.decoding import DecodingOptions, decode
from espnet_omnirouter.runtime.streaming import StreamingRecognizer

SAMPLE_RATE = 8000
POSITIONS = 24  # encoder frames of ESPnet's positional table; the tests stream past it
TOKENS = ["<blank>", "<unk>", "a", "b", "c", "d", "<sos/eos>"]


FRONTENDS = {
    "default": {"n_fft": 128, "hop_length": 64, "n_mels": 20, "fs": SAMPLE_RATE},
    "kaldi_fbank": {"n_mels": 20, "fs": SAMPLE_RATE},  # 200-sample windows every 80
}


def u2pp_config(moe_type: str, frontend: str = "default") -> dict:
    from espnet2.tasks.asr import ASRTask

    args = vars(ASRTask.get_parser().parse_args([]))
    args.update(
        frontend=frontend,
        frontend_conf=FRONTENDS[frontend],
        encoder="u2pp_conformer",
        encoder_conf={
            **TINY_CONFORMER,
            "rel_pos_type": "legacy",
            "pos_enc_layer_type": "rel_pos",
            "selfattention_layer_type": "rel_selfattn",
            "cnn_module_kernel": 5,
            "max_pos_emb_len": POSITIONS,
            "moe_conf": {"type": moe_type, "num_experts": 4},
        },
        decoder="bi_transformer",
        decoder_conf={
            "attention_heads": 2,
            "linear_units": 24,
            "num_blocks": 1,
            "r_num_blocks": 1,
            "moe_conf": {"type": moe_type, "num_experts": 4},
        },
        model="u2pp",
        model_conf={"ctc_weight": 0.3, "reverse_weight": 0.3},
        token_list=TOKENS,
        token_type="char",
        normalize=None,
    )
    return args


@pytest.fixture(
    scope="module",
    params=[("dense", "default"), ("u2pp", "default"), ("u2pp", "kaldi_fbank")],
    ids=lambda param: "-".join(param),
)
def model(request, tmp_path_factory) -> EagerModel:
    from espnet2.tasks.asr import ASRTask

    root: Path = tmp_path_factory.mktemp("u2pp")
    config = u2pp_config(*request.param)
    torch.manual_seed(0)
    asr_model = ASRTask.build_model(argparse.Namespace(**config))
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    torch.save(asr_model.state_dict(), root / "model.pth")
    return EagerModel(load_speech2text(root / "config.yaml", root / "model.pth", beam_size=2))


def audio(seconds: float) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    tone = np.sin(2 * np.pi * (300 + 400 * np.sin(2 * np.pi * 0.7 * t)) * t)
    return (0.4 * tone + 0.02 * rng.standard_normal(len(t))).astype(np.float32)


def offline(model: EagerModel, samples: np.ndarray, chunk_size: int, num_left: int):
    """Chunk-masked offline decoding (encoder output, final text) of one utterance."""
    options = DecodingOptions(ctc_beam_size=5, chunk_size=chunk_size, num_left_chunks=num_left)
    encoder_out = model.encode(model.features(samples), chunk_size, num_left)
    return encoder_out, decode(model, samples, "attention_rescoring", options)


@pytest.mark.parametrize("chunk_size, num_left, piece", [(4, -1, 333), (2, 1, 1000), (3, 0, 97)])
def test_streaming_equals_chunk_masked_offline_decoding(model, chunk_size, num_left, piece):
    samples = audio(2.3)
    offline_out, expected = offline(model, samples, chunk_size, num_left)
    assert offline_out.shape[1] > POSITIONS  # longer than ESPnet's positional table
    recognizer = StreamingRecognizer(model, chunk_size, num_left, beam_size=5)
    partial_frames, buffered = [], []
    for start in range(0, len(samples), piece):
        recognizer.accept_waveform(samples[start : start + piece])
        partial_frames.append(recognizer.frames)
        buffered.append(len(recognizer.features.audio))
    assert partial_frames[-1] > 0 and partial_frames == sorted(partial_frames)  # it streamed
    # The audio kept is about a piece and one window, not the stream.
    features = recognizer.features
    assert max(buffered) <= piece + features.n_fft + 2 * features.hop_length
    recognizer._encode(recognizer.features.flush(), final=True)
    streamed_out = np.concatenate(recognizer.encoded, axis=1)
    assert streamed_out.shape == offline_out.shape
    np.testing.assert_allclose(streamed_out, offline_out, atol=1e-4)
    assert recognizer.finalize() == expected
    assert recognizer.frames == 0 and len(recognizer.features.audio) == 0  # a new stream


def test_without_rescoring_the_final_text_is_the_ctc_search_s(model):
    samples, options = audio(1.7), DecodingOptions(ctc_beam_size=5, chunk_size=3)
    expected = decode(model, samples, "ctc_prefix_beam_search", options)
    recognizer = StreamingRecognizer(model, 3, beam_size=5, rescore=False)
    for start in range(0, len(samples), 700):
        recognizer.accept_waveform(samples[start : start + 700])
        assert recognizer.encoded == []  # no encoder output kept for a decoder
    assert recognizer.finalize() == expected


def test_a_long_stream_in_between_changes_nothing_and_caches_stay_bounded(model):
    short, long = audio(1.0), audio(4.5)
    recognizer = StreamingRecognizer(model, 3, 1, beam_size=5)
    first = recognizer.accept_waveform(short) + "|" + recognizer.finalize()
    for start in range(0, len(long), 800):
        recognizer.accept_waveform(long[start : start + 800])
        _, caches = recognizer.state
        assert all(cache.size(1) <= 3 for cache in (caches[0] if caches else []))  # 1 left chunk
    assert recognizer.frames > 4 * POSITIONS
    recognizer.finalize()
    assert recognizer.accept_waveform(short) + "|" + recognizer.finalize() == first
    _, expected = offline(model, short, 3, 1)
    assert first.endswith("|" + expected)


def test_the_search_of_a_stream_costs_its_new_frames_only(model, monkeypatch):
    """Every encoder frame of a long stream is searched once, in pieces of at most a chunk:
    the work per chunk does not grow with the stream (a search re-run over the stream so
    far on each piece would search ~T^2 / (2 * chunk) frames)."""
    searched = []
    advance = CTCPrefixBeamSearch.advance

    def counting_advance(search, log_probs):
        searched.append(len(log_probs))
        advance(search, log_probs)

    monkeypatch.setattr(CTCPrefixBeamSearch, "advance", counting_advance)
    samples, chunk_size = audio(6.0), 2
    recognizer = StreamingRecognizer(model, chunk_size, 1, beam_size=3)
    frames_after_piece = []
    for start in range(0, len(samples), 500):
        recognizer.accept_waveform(samples[start : start + 500])
        frames_after_piece.append(recognizer.frames)
    recognizer.finalize()
    total = model.encode(model.features(samples), chunk_size, 1).shape[1]
    assert frames_after_piece[-1] > 5 * POSITIONS and frames_after_piece == sorted(
        frames_after_piece
    )
    assert max(searched) <= chunk_size and sum(searched) == total


def test_streaming_needs_a_u2pp_encoder_and_a_chunk(model, experiment):
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        StreamingRecognizer(model, 0)
    ctc_model = load_speech2text(experiment / "config.yaml", experiment / "valid.loss.ave.pth", 1)
    with pytest.raises(TypeError, match="needs a u2pp_conformer encoder"):
        StreamingRecognizer(EagerModel(ctc_model), 4)


@pytest.mark.parametrize(
    "update, message",
    [
        ({"normalize": "utterance_mvn"}, "UtteranceMVN normalises with statistics of the whole"),
        ({"encoder_conf": {"causal": False}}, "causal: false"),
    ],
)
def test_models_that_cannot_stream_are_refused(tmp_path, update, message):
    from espnet2.tasks.asr import ASRTask

    config = u2pp_config("dense")
    for key, value in update.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    asr_model = ASRTask.build_model(argparse.Namespace(**config))
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    torch.save(asr_model.state_dict(), tmp_path / "model.pth")
    speech2text = load_speech2text(tmp_path / "config.yaml", tmp_path / "model.pth", beam_size=1)
    eager = EagerModel(speech2text)
    assert not eager.streamable
    with pytest.raises(ValueError, match=message):
        StreamingRecognizer(eager, 4)
