"""``bin/export --format sherpa-onnx``: sherpa-onnx's own recognizers (PyPI ``sherpa-onnx``)
decode the exported dense, switch, omni and U2++ models to the eager model's tokens,
offline and chunk by chunk, and its WebSocket server streams an MoE model to several
clients at once."""

import json
import shutil
import socket
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List, Tuple

import numpy as np
import pytest
import soundfile
import torch
import yaml
from onnx_models import MODEL_TYPES, load, make_model_dir

from espnet_omnirouter.bin import export as export_cli
from espnet_omnirouter.runtime.ctc_search import ctc_greedy_search

sherpa_onnx = pytest.importorskip("sherpa_onnx")

SAMPLE_RATE = 16000
FEATURE_DIM = 80


def to_kaldi_fbank(exp: Path) -> Path:
    """Turn a tiny experiment (``onnx_models``) into one with ``frontend: kaldi_fbank``
    (80 bins, 16 kHz) and a global MVN whose statistics are not trivial; re-initialised."""
    from espnet2.tasks.asr import ASRTask

    config = yaml.safe_load((exp / "config.yaml").read_text())
    stats = exp / "feats_stats.npz"
    generator = np.random.default_rng(0)
    mean = 9.0 + generator.standard_normal(FEATURE_DIM)
    var = 4.0 + generator.random(FEATURE_DIM)
    np.savez(stats, count=np.array(100), sum=100 * mean, sum_square=100 * (var + mean**2))
    config.update(
        frontend="kaldi_fbank",
        frontend_conf={"fs": SAMPLE_RATE, "n_mels": FEATURE_DIM},
        normalize="global_mvn",
        normalize_conf={"stats_file": str(stats)},
    )
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    args = ASRTask.get_parser().parse_args([])
    vars(args).update(config)
    torch.manual_seed(1)
    model = ASRTask.build_model(args)
    with torch.no_grad():  # sharper CTC outputs than an untrained head's near-uniform ones
        model.ctc.ctc_lo.weight.mul_(8.0)
    torch.save(model.state_dict(), exp / "valid.loss.ave.pth")
    return exp


def audio(num_samples: int, seed: int) -> np.ndarray:
    """Tones with changing pitch plus noise, in [-1, 1]."""
    generator = np.random.default_rng(seed)
    t = np.arange(num_samples) / SAMPLE_RATE
    pitch = 200 + 150 * np.sin(2 * np.pi * 1.3 * t + seed)
    wave = 0.3 * np.sin(2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE)
    wave *= 0.5 + 0.5 * np.sin(2 * np.pi * 2.1 * t) ** 2
    return (wave + 0.02 * generator.standard_normal(num_samples)).astype(np.float32)


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Dict[str, Path]:
    """Every model type exported for sherpa-onnx (float32 and int8, in <exp>/sherpa) and
    for this package's runtime (<exp>/runtime); the experiment dirs."""
    root = tmp_path_factory.mktemp("sherpa")
    dirs = {}
    for model_type in MODEL_TYPES:
        exp = to_kaldi_fbank(make_model_dir(root / model_type, model_type))
        out = exp / "sherpa"
        assert (
            export_cli.main(
                ["--model", str(exp), "--output_dir", str(out), "--format", "sherpa-onnx", "--int8"]
            )
            == 0
        )
        assert export_cli.main(["--model", str(exp), "--output_dir", str(exp / "runtime")]) == 0
        dirs[model_type] = exp
    return dirs


def eager_tokens(speech2text, feats: torch.Tensor, chunk_size: int = 0, left: int = -1):
    """Greedy CTC tokens of the eager model on features (1, T, F): full context, or
    chunk by chunk through ``forward_chunk_by_chunk``."""
    model = speech2text.asr_model
    with torch.no_grad():
        normalized, _ = model.normalize(feats, torch.tensor([feats.shape[1]]))
        if chunk_size:
            encoder_out = model.encoder.forward_chunk_by_chunk(normalized, chunk_size, left)
        else:
            lengths = torch.tensor([feats.shape[1]])
            kwargs = {"chunk_size": 0} if hasattr(model.encoder, "decoding_chunk_size") else {}
            encoder_out, _, _ = model.encoder(normalized, lengths, **kwargs)
            encoder_out = encoder_out[0] if isinstance(encoder_out, tuple) else encoder_out
        log_probs = model.ctc.log_softmax(encoder_out)[0].numpy()
    ids = ctc_greedy_search(log_probs, model.blank_id)
    return [model.token_list[i] for i in ids]


def features(speech2text, samples: np.ndarray) -> torch.Tensor:
    frontend = speech2text.asr_model.frontend
    return frontend.features(torch.from_numpy(samples))[None]


def offline_recognizer(model_dir: Path, model_file: str = "model.onnx"):
    return sherpa_onnx.OfflineRecognizer.from_wenet_ctc(
        model=str(model_dir / model_file), tokens=str(model_dir / "tokens.txt"),
        num_threads=1, sample_rate=SAMPLE_RATE, feature_dim=FEATURE_DIM,
    )  # fmt: skip


def online_recognizer(model_dir: Path, chunk_size: int, left: int, model_file="model.onnx"):
    return sherpa_onnx.OnlineRecognizer.from_wenet_ctc(
        model=str(model_dir / model_file), tokens=str(model_dir / "tokens.txt"),
        chunk_size=chunk_size, num_left_chunks=left, num_threads=1,
        sample_rate=SAMPLE_RATE, feature_dim=FEATURE_DIM, enable_endpoint_detection=False,
    )  # fmt: skip


def sherpa_offline_tokens(recognizer, samples: np.ndarray) -> List[str]:
    stream = recognizer.create_stream()
    stream.accept_waveform(SAMPLE_RATE, samples)
    recognizer.decode_stream(stream)
    return list(stream.result.tokens)


def sherpa_online_tokens(recognizer, samples: np.ndarray, piece: int = 1234) -> List[str]:
    stream = recognizer.create_stream()
    for start in range(0, len(samples), piece):
        stream.accept_waveform(SAMPLE_RATE, samples[start : start + piece])
        while recognizer.is_ready(stream):
            recognizer.decode_stream(stream)
    stream.input_finished()
    while recognizer.is_ready(stream):
        recognizer.decode_stream(stream)
    return list(recognizer.get_result_all(stream).tokens)


def streaming_audio(encoder, chunk_size: int, chunks: int, seed: int) -> Tuple[np.ndarray, int]:
    """Audio of which sherpa-onnx decodes ``chunks`` chunks, and the feature frames they
    read. sherpa-onnx decodes whole chunks only, once a frame past the chunk has come;
    that frame is 10 ms, and the chunks' frames do not reach the end of the audio."""
    window, stride = encoder.streaming_window(chunk_size)
    frames = (chunks - 1) * stride + window
    return audio((frames + 1) * SAMPLE_RATE // 100, seed), frames


@pytest.mark.parametrize("model_type", ["dense", "switch", "omni"])
def test_offline_recognizer_decodes_the_eager_model_s_tokens(exports, model_type):
    exp = exports[model_type]
    speech2text = load(exp)
    recognizer = offline_recognizer(exp / "sherpa")
    for seed, seconds in enumerate([0.61, 1.3, 2.05]):
        samples = audio(int(seconds * SAMPLE_RATE), seed)
        expected = eager_tokens(speech2text, features(speech2text, samples))
        assert expected, "the test model outputs nothing: the comparison would be empty"
        assert sherpa_offline_tokens(recognizer, samples) == expected


@pytest.mark.parametrize("model_type", ["u2pp_moe", "u2pp_dense"])
@pytest.mark.parametrize("chunk_size,left", [(4, 2), (3, 1)])
def test_online_recognizer_streams_the_eager_chunk_by_chunk_tokens(
    exports, model_type, chunk_size, left
):
    exp = exports[model_type]
    speech2text = load(exp)
    recognizer = online_recognizer(exp / "sherpa", chunk_size, left)
    for seed, chunks in enumerate([1, 5, 9]):
        samples, frames = streaming_audio(speech2text.asr_model.encoder, chunk_size, chunks, seed)
        feats = features(speech2text, samples)[:, :frames]
        expected = eager_tokens(speech2text, feats, chunk_size, left)
        assert sherpa_online_tokens(recognizer, samples) == expected


@pytest.mark.parametrize("model_type", MODEL_TYPES)
def test_sherpa_onnx_and_the_runtime_give_the_same_text(exports, model_type):
    """The runtime's export of the same model (kaldi-native-fbank features in numpy)
    decodes to sherpa-onnx's texts: offline greedy, or chunk by chunk for U2++."""
    from espnet_omnirouter.runtime.exported_model import ExportedModel

    exp = exports[model_type]
    runtime = ExportedModel(exp / "runtime")
    streaming = model_type.startswith("u2pp")
    recognizer = (
        online_recognizer(exp / "sherpa", 4, 2) if streaming else offline_recognizer(exp / "sherpa")
    )
    encoder = load(exp).asr_model.encoder
    for seed, chunks in enumerate([2, 7]):
        if streaming:
            samples, frames = streaming_audio(encoder, 4, chunks, seed)
        else:
            samples = audio(chunks * 2345, seed)
        feats = runtime.features(samples)
        if streaming:
            encoder_out = runtime.encode(feats[:frames], chunk_size=4, num_left_chunks=2)
            tokens = sherpa_online_tokens(recognizer, samples)
        else:
            encoder_out = runtime.encode(feats)
            tokens = sherpa_offline_tokens(recognizer, samples)
        ids = ctc_greedy_search(runtime.ctc_log_probs(encoder_out), runtime.blank_id)
        assert [runtime.token_list[i] for i in ids] == tokens


def test_int8_graphs_run_in_sherpa_onnx_close_to_float32(exports):
    """int8 changes the numbers, and an untrained tiny model's texts with them: accepted
    when sherpa-onnx decodes the int8 graphs and the offline graph's best token agrees
    with float32's on at least 75% of the frames (81-100% measured)."""
    import onnx
    import onnxruntime

    for model_type in ("omni", "u2pp_moe"):
        model_dir = exports[model_type] / "sherpa"
        graph = onnx.load(str(model_dir / "model.int8.onnx")).graph
        assert "MatMulInteger" in {node.op_type for node in graph.node}
    samples = audio(int(1.5 * SAMPLE_RATE), 0)
    sherpa_online_tokens(
        online_recognizer(exports["u2pp_moe"] / "sherpa", 4, 2, "model.int8.onnx"), samples
    )
    model_dir = exports["omni"] / "sherpa"
    sherpa_offline_tokens(offline_recognizer(model_dir, "model.int8.onnx"), samples)
    speech2text = load(exports["omni"])
    for seed in range(3):
        x = features(speech2text, audio(int(1.5 * SAMPLE_RATE), seed)).numpy()
        inputs = {"x": x, "x_lens": np.array([x.shape[1]])}
        best = [
            onnxruntime.InferenceSession(str(model_dir / name)).run(None, inputs)[0].argmax(-1)
            for name in ("model.onnx", "model.int8.onnx")
        ]
        assert (best[0] == best[1]).mean() >= 0.75


def test_the_export_refuses_espnet_s_stft_frontend(tmp_path, capsys):
    exp = make_model_dir(tmp_path, "omni")
    code = export_cli.main(
        ["--model", str(exp), "--output_dir", str(tmp_path / "out"), "--format", "sherpa-onnx"]
    )
    assert code == export_cli.EXIT_NOT_EXPORTABLE
    assert "frontend DefaultFrontend: sherpa-onnx computes kaldi-native-fbank" in (
        capsys.readouterr().err
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(
    shutil.which("sherpa-onnx-online-websocket-server") is None, reason="needs sherpa-onnx-bin"
)
def test_websocket_server_streams_a_moe_model_to_concurrent_clients(exports, tmp_path):
    exp = exports["u2pp_moe"]
    model_dir = exp / "sherpa"
    speech2text = load(exp)
    encoder = speech2text.asr_model.encoder
    chunk_size, left = 4, 2
    waves, expected = [], []
    for seed in range(4):
        samples, frames = streaming_audio(encoder, chunk_size, 6 + seed, seed)
        waves.append(tmp_path / f"utt{seed}.wav")
        soundfile.write(waves[-1], samples, SAMPLE_RATE, subtype="FLOAT")
        feats = features(speech2text, samples)[:, :frames]
        expected.append(eager_tokens(speech2text, feats, chunk_size, left))
    port = free_port()
    server = subprocess.Popen(
        [
            "sherpa-onnx-online-websocket-server", f"--port={port}", "--num-work-threads=2",
            "--num-io-threads=1", f"--wenet-ctc-model={model_dir / 'model.onnx'}",
            f"--tokens={model_dir / 'tokens.txt'}", f"--wenet-ctc-chunk-size={chunk_size}",
            f"--wenet-ctc-num-left-chunks={left}", "--enable-endpoint=false",
            f"--feat-dim={FEATURE_DIM}", f"--sample-rate={SAMPLE_RATE}",
        ],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=tmp_path,  # its log.txt
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, server.communicate()[0]
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "the server did not start listening"
                time.sleep(0.2)

        def transcribe(wave: Path) -> str:
            client = subprocess.run(
                ["sherpa-onnx-online-websocket-client", "--server-ip=127.0.0.1",
                 f"--server-port={port}", "--seconds-per-message=0.05", str(wave)],
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert client.returncode == 0, client.stdout + client.stderr
            return client.stderr + client.stdout

        with ThreadPoolExecutor(len(waves)) as pool:
            outputs = list(pool.map(transcribe, waves))
    finally:
        server.terminate()
        server.wait(timeout=30)
    # The server pads each stream's end, so it may decode a chunk past the eager ones.
    for output, tokens in zip(outputs, expected):
        results = [
            json.loads(line[line.index("{") :]) for line in output.splitlines() if "{" in line
        ]
        assert results and results[-1]["is_final"], output
        assert results[-1]["tokens"][: len(tokens)] == tokens, output
