"""The torch-free runtime: numpy frontend and CTC search equal ESPnet's and the plugin's,
and exported models transcribe synthesised speech to the eager decoder's texts, in a
process where torch cannot be imported."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from onnx_models import MODEL_TYPES, load, make_model_dir

from espnet_omnirouter.asr.decoding.eager_model import EagerModel, min_decodable_samples
from espnet_omnirouter.export.exporter import export_model
from espnet_omnirouter.runtime.audio import load_audio
from espnet_omnirouter.runtime.ctc_search import ctc_greedy_search, ctc_prefix_beam_search
from espnet_omnirouter.runtime.decoding import DecodingOptions, decode, resolve_auto_mode
from espnet_omnirouter.runtime.exported_model import ExportedModel, ExportedModelError
from espnet_omnirouter.runtime.frontend import StreamingFeatures

SAMPLE_RATE = 8000
# Features: float64 numpy FFT vs torch's float32 STFT, after normalisation by std ~3.
FEATURE_ATOL = 2e-3
# CTC log-probabilities of the runtime (numpy features within FEATURE_ATOL, then the
# exported graphs) against the eager model's.
LOG_PROB_ATOL = 2e-2


@pytest.fixture(scope="module")
def speech(tmp_path_factory) -> Path:
    """espeak-ng speech at the models' 8 kHz."""
    root = tmp_path_factory.mktemp("speech")
    subprocess.run(["espeak-ng", "-w", str(root / "raw.wav"), "a bad cab, dab"], check=True)
    soundfile.write(root / "speech.wav", load_audio(root / "raw.wav", SAMPLE_RATE), SAMPLE_RATE)
    return root / "speech.wav"


@pytest.fixture(scope="module", params=MODEL_TYPES)
def exported(request, tmp_path_factory):
    """(model type, eager Speech2Text, runtime model)."""
    root: Path = tmp_path_factory.mktemp(request.param)
    speech2text = load(make_model_dir(root, request.param))
    export_model(speech2text, root / "onnx")
    return request.param, speech2text, ExportedModel(root / "onnx", num_threads=1)


def test_numpy_frontend_equals_espnet(exported, speech):
    _, speech2text, runtime = exported
    model = speech2text.asr_model
    samples = load_audio(speech, SAMPLE_RATE)
    with torch.no_grad():
        expected, _ = model.frontend(torch.from_numpy(samples)[None], torch.tensor([len(samples)]))
        expected, _ = model.normalize(expected, torch.tensor([expected.shape[1]]))
    feats = runtime.features(samples)
    assert feats.shape == expected[0].shape
    np.testing.assert_allclose(feats, expected[0].numpy(), atol=FEATURE_ATOL)
    streamed = StreamingFeatures(runtime.frontend)
    pieces = [
        streamed.accept(samples[start : start + 777]) for start in range(0, len(samples), 777)
    ]
    assert sum(len(piece) for piece in pieces[:-1]) > 0  # frames came out before the end
    np.testing.assert_array_equal(np.concatenate(pieces + [streamed.flush()]), feats)


def test_ctc_greedy_search_is_the_argmax_path_without_blanks():
    generator = torch.Generator().manual_seed(0)
    log_probs = (3 * torch.randn(40, 6, generator=generator)).log_softmax(-1)
    path = torch.unique_consecutive(log_probs.argmax(-1)).tolist()
    assert ctc_greedy_search(log_probs.numpy(), 0) == [label for label in path if label != 0]


def log_probs_of(model, samples: np.ndarray, chunk_size: int = 0, num_left_chunks: int = -1):
    """CTC log-probabilities (T, V) of one utterance, full context or chunk-masked."""
    return model.ctc_log_probs(model.encode(model.features(samples), chunk_size, num_left_chunks))


def eager_text(
    speech2text, samples: np.ndarray, mode: str, chunk_size: int = 0, num_left_chunks: int = -1
) -> str:
    """The eager model's text of one utterance (``bin/transcribe``'s decoding)."""
    options = DecodingOptions(ctc_beam_size=4, chunk_size=chunk_size,
                              num_left_chunks=num_left_chunks)  # fmt: skip
    return decode(EagerModel(speech2text), samples, mode, options)


def assert_beam_difference_is_rounding(
    speech2text, runtime, samples: np.ndarray, actual: str, **chunking
) -> None:
    """The runtime's prefix-beam text is the search's over the exported graphs'
    log-probabilities, and those equal the eager model's within ``LOG_PROB_ATOL``: a text
    that differs comes from a near-tie of an untrained model, not from the runtime."""
    eager_log_probs = log_probs_of(EagerModel(speech2text), samples, **chunking)
    log_probs = log_probs_of(runtime, samples, **chunking)
    np.testing.assert_allclose(log_probs, eager_log_probs, atol=LOG_PROB_ATOL)
    assert actual == runtime.ids_to_text(ctc_prefix_beam_search(log_probs, 4)[0][0])


def runtime_cases(model_type: str):
    if not model_type.startswith("u2pp"):
        return [("ctc_greedy", {}), ("ctc_prefix_beam_search", {})]
    return [
        ("ctc_greedy", {}),
        ("attention_rescoring", {}),
        ("ctc_prefix_beam_search", {"chunk_size": 2, "num_left_chunks": 1}),
        ("streaming", {"chunk_size": 4, "num_left_chunks": -1}),
        ("streaming", {"chunk_size": 3, "num_left_chunks": 0}),
    ]


def test_runtime_transcribes_speech_as_the_eager_decoder(exported, speech):
    model_type, speech2text, runtime = exported
    samples = load_audio(speech, SAMPLE_RATE)
    for mode, options in runtime_cases(model_type):
        expected = eager_text(speech2text, samples, mode, **options)
        assert expected, f"{mode}: the eager decoder gives no text to compare with"
        actual = decode(runtime, samples, mode, DecodingOptions(ctc_beam_size=4, **options))
        if actual != expected and mode == "ctc_prefix_beam_search":
            assert_beam_difference_is_rounding(speech2text, runtime, samples, actual, **options)
        else:
            assert actual == expected, (mode, options)


def test_runtime_loads_only_the_graphs_a_mode_uses(exported, speech):
    model_type, _, runtime = exported
    samples = load_audio(speech, SAMPLE_RATE)
    fresh = ExportedModel(runtime.directory, num_threads=1)
    assert fresh.sessions == {}
    decode(fresh, samples, "ctc_greedy")
    assert set(fresh.sessions) == {"encoder", "ctc"}
    if model_type.startswith("u2pp"):
        streaming = ExportedModel(runtime.directory, num_threads=1)
        decode(streaming, samples, "streaming", DecodingOptions(ctc_beam_size=4, chunk_size=4))
        assert set(streaming.sessions) == {"chunk_encoder", "ctc", "decoder"}


def test_auto_mode_streams_the_exports_that_stream(exported):
    model_type, _, runtime = exported
    streams = model_type.startswith("u2pp")
    assert resolve_auto_mode(runtime, 16) == (("streaming", 16) if streams else ("ctc_greedy", 0))
    assert resolve_auto_mode(runtime, 0) == ("ctc_greedy", 0)


# Runtime CLI per model: the installed package (only torch and ESPnet missing), and the
# copy inside the export dir (the package itself missing too).
RUNTIME_CLI = {
    "omni": ("espnet_omnirouter.runtime.transcribe", ("torch", "espnet", "espnet2")),
    "u2pp_moe": (
        "omnirouter_runtime.transcribe",
        ("torch", "espnet", "espnet2", "espnet_omnirouter"),
    ),
}


def import_blocker(names) -> str:
    """A sitecustomize.py making any import of ``names`` raise ImportError."""
    return f"import sys\nfor name in {tuple(names)!r}:\n    sys.modules[name] = None\n"


@pytest.mark.e2e
def test_runtime_cli_runs_without_torch(exported, speech, tmp_path):
    model_type, speech2text, runtime = exported
    if model_type not in RUNTIME_CLI:
        pytest.skip("one CTC and one U2++ model are enough for the CLI")
    module, blocked_modules = RUNTIME_CLI[model_type]
    (tmp_path / "blocker").mkdir()
    (tmp_path / "blocker" / "sitecustomize.py").write_text(import_blocker(blocked_modules))
    mode, options = runtime_cases(model_type)[-1]
    args = [f"--{name}={value}" for name, value in options.items()]
    jsonl = tmp_path / "out" / "result.jsonl"
    result = subprocess.run(
        [sys.executable, "-m", module, "--model", str(runtime.directory),
         "--mode", mode, "--ctc_beam_size", "4", *args, "--output_jsonl", str(jsonl),
         str(speech), str(tmp_path / "missing.wav")],
        capture_output=True, text=True, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": f"{tmp_path / 'blocker'}:{runtime.directory}"},
    )  # fmt: skip
    assert result.returncode == 3, result.stderr[-3000:]  # the missing file, reported
    assert "audio file not found" in result.stderr and "missing.wav" in result.stderr
    expected = eager_text(speech2text, load_audio(speech, SAMPLE_RATE), mode, **options)
    assert result.stdout == f"speech {expected}\n"
    record = json.loads(jsonl.read_text())
    assert record["text"] == expected and record["rtf"] > 0
    blocked = subprocess.run(
        [sys.executable, "-c", "import torch"], capture_output=True, text=True,
        env={**os.environ, "PYTHONPATH": str(tmp_path / "blocker")},
    )  # fmt: skip
    assert blocked.returncode != 0 and "import of torch halted" in blocked.stderr  # it works


@pytest.mark.e2e
def test_both_clis_read_the_same_samples_and_give_empty_audio_the_empty_text(
    exported, speech, tmp_path
):
    """The eager and the runtime CLI on a 22.05 kHz stereo file and an empty one: both
    decode the loader's samples to the same text and write the empty text for no audio."""
    model_type, speech2text, runtime = exported
    if model_type != "omni":
        pytest.skip("one model is enough to compare the CLIs")
    at_22k = load_audio(speech, 22050)
    soundfile.write(tmp_path / "stereo.wav", np.stack([at_22k, 0.5 * at_22k], axis=1), 22050)
    soundfile.write(tmp_path / "empty.wav", np.zeros((0, 2), np.float32), 22050)
    expected = eager_text(
        speech2text, load_audio(tmp_path / "stereo.wav", SAMPLE_RATE), "ctc_greedy"
    )
    clis = {
        "espnet_omnirouter.runtime.transcribe": runtime.directory,
        "espnet_omnirouter.bin.transcribe": runtime.directory.parent / "exp" / "asr_omni",
    }
    for module, model in clis.items():
        text = tmp_path / module / "text"
        result = subprocess.run(
            [sys.executable, "-m", module, "--model", str(model), "--mode", "ctc_greedy",
             "--output_text", str(text), str(tmp_path / "empty.wav"), str(tmp_path / "stereo.wav")],
            capture_output=True, text=True,
        )  # fmt: skip
        assert result.returncode == 0, (module, result.stderr[-3000:])
        assert text.read_text() == f"empty \nstereo {expected}\n", module
        assert "empty.wav: 0 samples, fewer than the model's minimum" in result.stderr, module


def test_runtime_gives_audio_too_short_to_encode_the_empty_text(exported):
    model_type, speech2text, runtime = exported
    assert runtime.min_samples == min_decodable_samples(speech2text.asr_model)  # as eager
    modes = [mode for mode, _ in runtime_cases(model_type)]
    chunking = {"chunk_size": 2} if model_type.startswith("u2pp") else {}
    for length in (0, 1, runtime.min_samples - 1):
        samples = np.full(length, 0.1, np.float32)
        for mode in modes:
            assert decode(runtime, samples, mode, DecodingOptions(**chunking)) == "", (mode, length)
    feats = runtime.features(np.full(runtime.min_samples, 0.1, np.float32))
    assert runtime.encode(feats).shape[1] == 1  # the shortest audio encoded: one frame


def test_runtime_errors_name_the_export(tmp_path):
    with pytest.raises(ExportedModelError, match=f"{tmp_path}.*no export.json"):
        ExportedModel(tmp_path)
