"""Export a trained model to a self-describing directory of ONNX graphs.

The directory holds:
    encoder.onnx        full-context encoder: feats (B, T, F), feats_lens (B,) ->
                        encoder_out (B, T', D), encoder_out_lens (B,)
    ctc.onnx            hidden (B, T', D) -> probs (B, T', V) (CTC log-probabilities)
    chunk_encoder.onnx  U2++ only: one streaming step with explicit caches
                        (see ``onnx_modules.ChunkEncoder``)
    decoder.onnx        models with an attention decoder: teacher-forced log-probabilities
                        of the left-to-right (and right-to-left) decoder, for rescoring
    *.onnx.data         the weights of a graph over 2 GB (models of ~500M parameters or more)
    frontend.npz        STFT window, mel matrix, global mean and std of the features
    export.json         sizes, token list, tokenizer, frontend options, chunk geometry
    bpe.model           the sentencepiece model (token_type bpe)
    omnirouter_runtime/ the torch-free runtime (a copy of ``espnet_omnirouter.runtime``)

Every MoE layer is traced as its own sparse forward (``sparse_moe.per_expert_parameters``);
after export each graph is run with ONNX Runtime on inputs it was not traced with and
compared with the eager model (its own dispatch).
"""

import json
import shutil
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from espnet_omnirouter.asr.encoder.subsampling import subsampling_geometry
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder
from espnet_omnirouter.asr.frontend.kaldi_fbank import KaldiFbankFrontend
from espnet_omnirouter.export.onnx_modules import (
    AttentionDecoder,
    ChunkEncoder,
    CTCHead,
    FullContextEncoder,
    extend_positions,
)
from espnet_omnirouter.export.sparse_moe import per_expert_parameters
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward

EXPORT_FORMAT_VERSION = 1
# The highest opset of torch's TorchScript-based exporter (which supports the
# data-dependent NonZero of sparse routing); ONNX Runtime 1.32 runs it.
OPSET = 20
# ONNX Runtime must reproduce the eager model within this (float32, same weights and
# routing; larger differences mean a broken export).
CHECK_ATOL = 1e-3
RUNTIME_PACKAGE = Path(__file__).resolve().parents[1] / "runtime"


class ExportError(RuntimeError):
    """The model cannot be exported (an unsupported component), or the exported graphs
    disagree with the eager model."""


@dataclass
class ExportedGraph:
    """One exported graph and its check against the eager model."""

    name: str
    path: Path
    max_abs_diff: float


def log(message: str) -> None:
    print(f"[export] {message}", flush=True)


def trace_to_onnx(
    module: torch.nn.Module,
    args: Tuple,
    path: Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Dict[str, Dict[int, str]],
) -> None:
    """Trace ``module`` into ``path``. A graph over protobuf's 2 GB (a model of ~500M
    parameters or more) keeps its weights in one file next to it, ``<path>.data``
    (the exporter writes one file per tensor, whose names two graphs of a dir share)."""
    # A new wrapper is in training mode, which the exporter restores afterwards on the
    # whole model: put it in eval mode first.
    module.eval()
    external_data = path.with_name(path.name + ".data")
    external_data.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        traced = Path(scratch) / path.name
        with warnings.catch_warnings(), per_expert_parameters(module):
            # Tracing warns about every Python int it sees; shapes are checked on other inputs.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                args,
                str(traced),
                input_names=list(input_names),
                output_names=list(output_names),
                dynamic_axes=dynamic_axes,
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        if len(list(Path(scratch).iterdir())) == 1:
            traced.replace(path)
        else:
            _gather_external_data(traced, path, external_data)


def _gather_external_data(traced: Path, path: Path, data_file: Path) -> None:
    """Save the graph ``traced`` (weights in one file per tensor next to it) as ``path``
    with every weight in ``data_file``, copied file by file (the weights are never all
    in memory) at page-aligned offsets (which ONNX Runtime can map instead of copying)."""
    import onnx
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    model = onnx.load(str(traced), load_external_data=False)
    with data_file.open("wb") as data:
        for tensor in model.graph.initializer:
            if not uses_external_data(tensor):
                continue
            info = ExternalDataInfo(tensor)
            data.seek(-data.tell() % 4096, 1)
            offset = data.tell()
            with (traced.parent / info.location).open("rb") as source:
                source.seek(info.offset or 0)
                if info.length is None:
                    shutil.copyfileobj(source, data)
                else:
                    data.write(source.read(info.length))
            del tensor.external_data[:]
            where = {"location": data_file.name, "offset": offset, "length": data.tell() - offset}
            for key, value in where.items():
                entry = tensor.external_data.add()
                entry.key, entry.value = key, str(value)
    onnx.save(model, str(path))


def _max_abs_diff(eager: Sequence[torch.Tensor], exported: Sequence[np.ndarray]) -> float:
    diffs = []
    for expected, actual in zip(eager, exported):
        expected = expected.detach().numpy()
        if expected.shape != actual.shape:
            raise ExportError(f"shape {actual.shape} from ONNX Runtime, {expected.shape} eager")
        if expected.size:
            diffs.append(float(np.abs(expected.astype(np.float64) - actual).max()))
    return max(diffs, default=0.0)


def check_against_eager(
    name: str, path: Path, eager: Callable[..., Tuple], inputs: Dict[str, np.ndarray]
) -> float:
    """Run the exported graph and the eager module (its own MoE dispatch) on ``inputs``;
    the largest difference."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    exported = session.run(None, inputs)
    with torch.no_grad():
        expected = eager(*(torch.from_numpy(value) for value in inputs.values()))
    expected = expected if isinstance(expected, tuple) else (expected,)
    diff = _max_abs_diff(expected, exported)
    if diff > CHECK_ATOL:
        raise ExportError(
            f"{path.name}: ONNX Runtime differs from the eager model by {diff:.2e} "
            f"(tolerance {CHECK_ATOL:.0e})"
        )
    log(f"{path.name}: ONNX Runtime matches eager within {diff:.1e}")
    return diff


def _features(batch_lengths: Sequence[int], size: int, seed: int) -> Dict[str, np.ndarray]:
    generator = np.random.default_rng(seed)
    feats = generator.standard_normal((len(batch_lengths), max(batch_lengths), size))
    for row, length in enumerate(batch_lengths):
        feats[row, length:] = 0.0
    return {
        "feats": feats.astype(np.float32),
        "feats_lens": np.asarray(batch_lengths, dtype=np.int64),
    }


def frontend_description(model: torch.nn.Module, sample_rate: int) -> Tuple[Dict, Dict]:
    """The options (JSON) and arrays (npz) that reproduce the model's feature extraction:
    ESPnet's ``DefaultFrontend`` (STFT, power, log-mel) or ``frontend: kaldi_fbank``, and
    ``GlobalMVN`` (or none)."""
    from espnet2.asr.frontend.default import DefaultFrontend
    from espnet2.layers.global_mvn import GlobalMVN

    frontend = model.frontend
    if isinstance(frontend, KaldiFbankFrontend):
        options, arrays = _kaldi_fbank_options(frontend), {}
    elif not isinstance(frontend, DefaultFrontend) or frontend.stft is None:
        raise ExportError(
            f"frontend {type(frontend).__name__}: export supports ESPnet's default (STFT "
            "log-mel) frontend and kaldi_fbank only"
        )
    else:
        options, arrays = _stft_options(frontend, sample_rate)
    normalize = model.normalize
    if normalize is not None:
        if not isinstance(normalize, GlobalMVN):
            raise ExportError(f"normalize {type(normalize).__name__}: only global_mvn is exported")
        options.update(norm_means=bool(normalize.norm_means), norm_vars=bool(normalize.norm_vars))
        arrays.update(mean=normalize.mean.float().numpy(), std=normalize.std.float().numpy())
    return options, {name: np.asarray(value, dtype=np.float32) for name, value in arrays.items()}


def _kaldi_fbank_options(frontend: KaldiFbankFrontend) -> Dict:
    """``frontend: kaldi_fbank``'s options (the runtime computes it with kaldi-native-fbank)."""
    return {
        "type": "kaldi_fbank",
        "sample_rate": frontend.fs,
        "n_mels": frontend.n_mels,
        "frame_length_ms": frontend.frame_length_ms,
        "frame_shift_ms": frontend.frame_shift_ms,
        "low_freq": frontend.low_freq,
        "high_freq": frontend.high_freq,
        "norm_means": False,
        "norm_vars": False,
    }


def _stft_options(frontend, sample_rate: int) -> Tuple[Dict, Dict]:
    """ESPnet's ``DefaultFrontend``: STFT options, window and mel matrix."""
    enhancement = frontend.frontend
    if enhancement is not None and (enhancement.use_wpe or enhancement.use_beamformer):
        raise ExportError("frontend_conf.frontend_conf: WPE and beamforming are not exported")
    stft, logmel = frontend.stft, frontend.logmel
    win_length = stft.win_length or stft.n_fft
    window = (
        getattr(torch, f"{stft.window}_window")(win_length)
        if stft.window is not None
        else torch.ones(win_length)
    )
    left = (stft.n_fft - win_length) // 2  # torch.stft centres a shorter window
    window = torch.nn.functional.pad(window, (left, stft.n_fft - win_length - left))
    if stft.normalized or not stft.onesided:
        raise ExportError("frontend_conf: normalized or two-sided STFTs are not exported")
    options = {
        "sample_rate": sample_rate,
        "n_fft": stft.n_fft,
        "hop_length": stft.hop_length,
        "center": bool(stft.center),
        "log_base": None if logmel.log_base is None else float(logmel.log_base),
        "norm_means": False,
        "norm_vars": False,
    }
    return options, {"window": window.numpy(), "melmat": logmel.melmat.numpy()}


def _tokenizer_description(speech2text, output_dir: Path) -> Dict:
    args = speech2text.asr_train_args
    token_type = args.token_type
    if token_type == "bpe":
        shutil.copyfile(args.bpemodel, output_dir / "bpe.model")
        return {"token_type": "bpe", "bpemodel": "bpe.model"}
    if token_type == "char":
        return {"token_type": "char", "space_symbol": speech2text.tokenizer.space_symbol}
    raise ExportError(f"token_type {token_type!r}: the runtime reads bpe and char tokens only")


def check_ctc_model(model: torch.nn.Module, decoder_name: str) -> None:
    """Raise ExportError naming what an exported graph cannot hold: a pre- or
    post-encoder, no CTC head (``decoder_name`` decodes with CTC), a CTC needed inside
    the encoder."""
    for part in ("preencoder", "postencoder"):
        if getattr(model, part, None) is not None:
            raise ExportError(f"model has a {part}: not supported by the export")
    if model.ctc is None:
        raise ExportError(f"model has no CTC head (ctc_weight 0): {decoder_name} decodes with CTC")
    for option in ("interctc_use_conditioning", "ctc_trim"):
        if getattr(model.encoder, option, False):
            raise ExportError(f"encoder_conf.{option}: the encoder needs its CTC inside")


def export_model(
    speech2text,
    output_dir: Path,
    max_frames: int = 3000,
    sample_rate: Optional[int] = None,
) -> List[ExportedGraph]:
    """Export the model of an ESPnet ``Speech2Text`` (any plugin model type) to
    ``output_dir`` (see the module docstring).

    Args:
        speech2text: ESPnet's ``Speech2Text`` (``asr_model``, tokenizer, train args).
        output_dir: Created if needed; existing export files are replaced.
        max_frames: The longest input in encoder frames (after subsampling) the graphs
            accept (the positional table is baked in; 3000 = 120 s at 40 ms per frame).
        sample_rate: The model's audio rate (default: its ``frontend_conf.fs``).

    Returns:
        The graphs written, each with its largest difference to the eager model.
    """
    model = speech2text.asr_model.eval()
    check_ctc_model(model, "the runtime")
    sample_rate = sample_rate or int(speech2text.asr_train_args.frontend_conf.get("fs", 16000))
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    encoder, decoder = model.encoder, getattr(model, "decoder", None)
    # A non-causal U2++ convolution looks ahead of a chunk: full context only.
    streaming = isinstance(encoder, U2ppConformerEncoder) and encoder.streamable
    feat_size = model.frontend.output_size()
    frontend_options, frontend_arrays = frontend_description(model, sample_rate)
    extend_positions(encoder, max_frames)
    moe_layers = sum(isinstance(m, MoEFeedForward) for m in model.modules())
    log(f"{type(model).__name__}: {moe_layers} MoE layers, exported with sparse top-k routing")
    graphs: List[ExportedGraph] = []
    with torch.no_grad():
        graphs.append(_export_encoder(encoder, feat_size, output_dir))
        graphs.append(_export_ctc(model.ctc, encoder.output_size(), output_dir))
        if streaming:
            graphs.append(_export_chunk_encoder(encoder, feat_size, output_dir))
        if decoder is not None:
            graphs.append(_export_decoder(decoder, model, encoder.output_size(), output_dir))
    np.savez(output_dir / "frontend.npz", **frontend_arrays)
    description = {
        "format_version": EXPORT_FORMAT_VERSION,
        "opset": OPSET,
        "frontend": frontend_options,
        "feat_size": feat_size,
        "encoder": _encoder_description(encoder, streaming, max_frames),
        "decoder": None
        if decoder is None
        else {
            "bidirectional": hasattr(decoder, "right_decoder"),
            "reverse_weight": float(getattr(model, "reverse_weight", 0.0)),
        },
        "token_list": list(model.token_list),
        "blank_id": int(model.blank_id),
        "sos": int(model.sos),
        "eos": int(model.eos),
        **_tokenizer_description(speech2text, output_dir),
        "graphs": {graph.name: graph.path.name for graph in graphs},
    }
    (output_dir / "export.json").write_text(json.dumps(description, indent=2) + "\n")
    runtime_copy = output_dir / "omnirouter_runtime"
    shutil.rmtree(runtime_copy, ignore_errors=True)
    shutil.copytree(RUNTIME_PACKAGE, runtime_copy, ignore=shutil.ignore_patterns("__pycache__"))
    log(f"done: {output_dir} ({', '.join(g.path.name for g in graphs)})")
    return graphs


def _encoder_description(encoder: torch.nn.Module, streaming: bool, max_frames: int) -> Dict:
    geometry = subsampling_geometry(encoder.embed)
    description = {
        "type": type(encoder).__name__,
        "moe": encoder.moe_conf.__dict__ if hasattr(encoder, "moe_conf") else None,
        "output_size": encoder.output_size(),
        "num_blocks": len(encoder.encoders),
        "subsampling_rate": geometry.rate,
        "right_context": geometry.right_context,
        "max_frames": max_frames,
        "streaming": streaming,
    }
    if streaming:
        conv = encoder.encoders[0].conv_module
        description.update(
            cnn_cache_size=0 if conv is None else conv.lorder,
            decoding_chunk_size=encoder.decoding_chunk_size,
            num_decoding_left_chunks=encoder.num_decoding_left_chunks,
        )
    return description


def _export_encoder(encoder: torch.nn.Module, feat_size: int, output_dir: Path) -> ExportedGraph:
    log("exporting the full-context encoder")
    module = FullContextEncoder(encoder)
    path = output_dir / "encoder.onnx"
    example = _features([73, 61], feat_size, seed=0)
    trace_to_onnx(
        module,
        tuple(torch.from_numpy(value) for value in example.values()),
        path,
        ["feats", "feats_lens"],
        ["encoder_out", "encoder_out_lens"],
        {
            "feats": {0: "B", 1: "T"},
            "feats_lens": {0: "B"},
            "encoder_out": {0: "B", 1: "T_out"},
            "encoder_out_lens": {0: "B"},
        },
    )
    diff = check_against_eager("encoder", path, module, _features([97, 120, 41], feat_size, seed=1))
    return ExportedGraph("encoder", path, diff)


def _export_ctc(ctc: torch.nn.Module, size: int, output_dir: Path) -> ExportedGraph:
    log("exporting the CTC head")
    module, path = CTCHead(ctc), output_dir / "ctc.onnx"
    trace_to_onnx(
        module,
        (torch.randn(1, 7, size),),
        path,
        ["hidden"],
        ["probs"],
        {"hidden": {0: "B", 1: "T"}, "probs": {0: "B", 1: "T"}},
    )
    hidden = np.random.default_rng(2).standard_normal((2, 11, size)).astype(np.float32)
    return ExportedGraph("ctc", path, check_against_eager("ctc", path, module, {"hidden": hidden}))


def initial_chunk_state(encoder: U2ppConformerEncoder) -> Tuple[torch.Tensor, torch.Tensor]:
    """Empty attention cache (L, 1, 0, D) and zero convolution cache (L, 1, D, K - 1)."""
    conv = encoder.encoders[0].conv_module
    size, blocks = encoder.output_size(), len(encoder.encoders)
    lorder = 0 if conv is None else conv.lorder
    return torch.zeros(blocks, 1, 0, size), torch.zeros(blocks, 1, size, lorder)


def _export_chunk_encoder(
    encoder: U2ppConformerEncoder, feat_size: int, output_dir: Path
) -> ExportedGraph:
    log("exporting the streaming chunk encoder (attention and convolution caches)")
    module, path = ChunkEncoder(encoder), output_dir / "chunk_encoder.onnx"
    window, _ = encoder.streaming_window(4)
    att_cache, cnn_cache = initial_chunk_state(encoder)
    # Traced on a later chunk (cache present), checked on another size and a first chunk.
    example = (
        torch.randn(1, window, feat_size),
        torch.tensor(8),
        torch.tensor(-1),
        torch.randn(att_cache.shape[0], 1, 8, att_cache.shape[-1]),
        torch.randn(cnn_cache.shape),
    )
    trace_to_onnx(
        module,
        example,
        path,
        ["chunk", "offset", "required_cache_size", "att_cache", "cnn_cache"],
        ["output", "r_att_cache", "r_cnn_cache"],
        {
            "chunk": {1: "T"},
            "att_cache": {2: "T_CACHE"},
            "output": {1: "T_OUT"},
            "r_att_cache": {2: "T_CACHE_OUT"},
        },
    )
    check_window, _ = encoder.streaming_window(3)
    generator = np.random.default_rng(3)
    diff = 0.0
    for offset, cache_time, required in ((0, 0, -1), (6, 6, 3)):
        inputs = {
            "chunk": generator.standard_normal((1, check_window, feat_size)),
            "offset": np.array(offset),
            "required_cache_size": np.array(required),
            "att_cache": generator.standard_normal(
                (att_cache.shape[0], 1, cache_time, att_cache.shape[-1])
            ),
            "cnn_cache": generator.standard_normal(cnn_cache.shape),
        }
        inputs = {
            name: value.astype(np.int64 if value.ndim == 0 else np.float32)
            for name, value in inputs.items()
        }
        diff = max(diff, check_against_eager("chunk_encoder", path, module, inputs))
    return ExportedGraph("chunk_encoder", path, diff)


def _export_decoder(
    decoder: torch.nn.Module, model: torch.nn.Module, size: int, output_dir: Path
) -> ExportedGraph:
    bidirectional = hasattr(decoder, "right_decoder")
    log(f"exporting the attention decoder{'s (left-to-right, right-to-left)' * bidirectional}")
    module, path = AttentionDecoder(decoder, bidirectional), output_dir / "decoder.onnx"

    def hyps(count: int, length: int, seed: int) -> Dict[str, np.ndarray]:
        generator = np.random.default_rng(seed)
        lens = generator.integers(1, length, count, endpoint=True)
        lens[0] = length
        tokens = generator.integers(1, model.sos, (count, length))
        tokens[:, 0] = model.sos
        tokens[np.arange(length)[None, :] >= lens[:, None]] = model.eos
        inputs = {
            "encoder_out": generator.standard_normal((1, 2 * length + 3, size)).astype(np.float32),
            "hyps": tokens.astype(np.int64),
            "hyps_lens": lens.astype(np.int64),
        }
        if bidirectional:
            inputs["r_hyps"] = tokens[:, ::-1].copy().astype(np.int64)
        return inputs

    names = ["encoder_out", "hyps", "hyps_lens"] + ["r_hyps"] * bidirectional
    outputs = ["score"] + ["r_score"] * bidirectional
    axes = {"encoder_out": {1: "T"}, "hyps": {0: "N", 1: "L"}, "hyps_lens": {0: "N"}}
    axes.update({name: {0: "N", 1: "L"} for name in names[3:] + outputs})
    example = tuple(torch.from_numpy(value) for value in hyps(3, 6, seed=4).values())
    trace_to_onnx(module, example, path, names, outputs, axes)
    diff = check_against_eager("decoder", path, module, hyps(5, 9, seed=5))
    return ExportedGraph("decoder", path, diff)
