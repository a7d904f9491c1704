"""Export a trained model as a WeNet CTC model that sherpa-onnx loads (``model_type``
``wenet_ctc``): its recognizers, WebSocket servers and every platform API then run it.

The output dir holds:
    model.onnx       offline (dense, switch, omni, U2++ full context):
                     x (N, T, F) fbank, x_lens (N,) int64 -> log_probs (N, T', V),
                     log_probs_lens (N,);
                     streaming (a streamable U2++ model): one chunk
                     x (1, W, F), offset (1,), required_cache_size (1,) int64,
                     attn_cache (L, H, R, 2 D / H), conv_cache (L, 1, D, K - 1),
                     attn_mask (1, 1, R + C) bool -> log_probs (1, C, V),
                     next_att_cache, next_conv_cache
    model.int8.onnx  the same graph quantised (``export.quantize``), with ``--int8``
    tokens.txt       ``symbol id`` per line, ``<blank>`` first

sherpa-onnx computes the features itself (kaldi-native-fbank on 16-bit-scaled samples),
so only models trained with ``frontend: kaldi_fbank`` on its window options export; the
global mean/variance normalisation is folded into the graph. The MoE layers keep their
sparse top-k routing (``sparse_moe``).

The streaming graph keeps sherpa-onnx's state layout: a cache of R = chunk_size x
left_chunks frames per block, zero at the start and masked by ``attn_mask`` until filled,
and an ``offset`` starting at R. Each block caches its normalised attention input (D
values per frame), stored in the first half of each frame's 2 D values of sherpa-onnx's
(L, H, R, 2 D / H) cache (the second half stays zero).
"""

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from espnet_omnirouter.asr.encoder.subsampling import subsampling_geometry
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder
from espnet_omnirouter.asr.frontend.kaldi_fbank import KaldiFbankFrontend
from espnet_omnirouter.export.exporter import (
    ExportError,
    check_against_eager,
    check_ctc_model,
    log,
    trace_to_onnx,
)
from espnet_omnirouter.export.onnx_modules import ChunkEncoder, FullContextEncoder, extend_positions
from espnet_omnirouter.export.quantize import quantize_graph

# kaldi-native-fbank's options that sherpa-onnx's feature extractor fixes.
SHERPA_FBANK = {"frame_length_ms": 25.0, "frame_shift_ms": 10.0, "low_freq": 20.0,
                "high_freq": -400.0}  # fmt: skip


class FoldedNormalization(torch.nn.Module):
    """``forward(feats (..., F))`` -> the model's ``normalize`` (GlobalMVN, or none) of
    the features, as graph arithmetic."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        from espnet2.layers.global_mvn import GlobalMVN

        normalize = model.normalize
        mean = torch.zeros(model.frontend.output_size())
        scale = torch.ones_like(mean)
        if normalize is not None:
            if not isinstance(normalize, GlobalMVN):
                raise ExportError(
                    f"normalize {type(normalize).__name__}: sherpa-onnx export folds "
                    "global_mvn only (utterance_mvn needs the whole utterance)"
                )
            if normalize.norm_means:
                mean = normalize.mean.float()
            if normalize.norm_vars:
                scale = 1.0 / normalize.std.float()
        self.register_buffer("mean", mean)
        self.register_buffer("scale", scale)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return (feats - self.mean) * self.scale


class OfflineWenetCTC(torch.nn.Module):
    """``forward(x (N, T, F), x_lens (N,))`` -> CTC log-probabilities (N, T', V) and their
    lengths (N,), full context, from un-normalised fbank features."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.normalize = FoldedNormalization(model)
        self.encoder = FullContextEncoder(model.encoder)
        self.ctc = model.ctc

    def forward(self, x: torch.Tensor, x_lens: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        encoder_out, encoder_out_lens = self.encoder(self.normalize(x), x_lens)
        return self.ctc.log_softmax(encoder_out), encoder_out_lens


class StreamingWenetCTC(torch.nn.Module):
    """One chunk of sherpa-onnx's streaming WeNet CTC model (see the module docstring):
    the U2++ encoder's ``ChunkEncoder`` with sherpa-onnx's fixed-size, masked cache."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.normalize = FoldedNormalization(model)
        self.chunk_encoder = ChunkEncoder(model.encoder)
        self.ctc = model.ctc

    def forward(
        self,
        x: torch.Tensor,
        offset: torch.Tensor,
        required_cache_size: torch.Tensor,
        attn_cache: torch.Tensor,
        conv_cache: torch.Tensor,
        attn_mask: torch.Tensor,
    ) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        blocks, heads, cache_time, width = attn_cache.shape
        size = heads * width // 2
        # (L, H, R, 2D/H) -> (L, 1, R, 2D): each frame's values; ours are the first D.
        cache = attn_cache.transpose(1, 2).reshape(blocks, 1, cache_time, 2 * size)
        output, new_cache, new_conv_cache = self.chunk_encoder(
            self.normalize(x),
            offset.reshape(()) - required_cache_size.reshape(()),
            required_cache_size.reshape(()),
            cache[..., :size],
            conv_cache,
            attn_mask,
        )
        new_cache = torch.cat([new_cache, torch.zeros_like(new_cache)], dim=-1)
        new_cache = new_cache.reshape(blocks, -1, heads, width).transpose(1, 2)
        return self.ctc.log_softmax(output), new_cache, new_conv_cache


def check_frontend(model: torch.nn.Module) -> KaldiFbankFrontend:
    """The model's ``KaldiFbankFrontend``, or an ExportError naming what sherpa-onnx
    cannot reproduce."""
    frontend = model.frontend
    if not isinstance(frontend, KaldiFbankFrontend):
        raise ExportError(
            f"frontend {type(frontend).__name__}: sherpa-onnx computes kaldi-native-fbank "
            "features itself; train with frontend: kaldi_fbank to deploy there"
        )
    for option, value in SHERPA_FBANK.items():
        if getattr(frontend, option) != value:
            raise ExportError(
                f"frontend_conf.{option}={getattr(frontend, option)}: sherpa-onnx's "
                f"features use {value}"
            )
    return frontend


def write_tokens(token_list: List[str], space_symbol: Optional[str], path: Path) -> None:
    """sherpa-onnx's ``tokens.txt``; the space symbol of char models becomes ``▁``, which
    sherpa-onnx turns into a space."""
    if token_list[0] != "<blank>":
        raise ExportError(f"token_list starts with {token_list[0]!r}: sherpa-onnx needs <blank>")
    lines = [
        f"{'▁' if token == space_symbol else token} {index}"
        for index, token in enumerate(token_list)
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def add_metadata(path: Path, metadata: Dict[str, object]) -> None:
    """Write ``metadata`` (values as strings) into the ONNX model at ``path``."""
    import onnx

    model = onnx.load(str(path))
    del model.metadata_props[:]
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, str(value)
    onnx.save(model, str(path))


def export_sherpa_onnx(
    speech2text, output_dir: Path, int8: bool = False, max_frames: int = 3000
) -> List[Path]:
    """Export the model of an ESPnet ``Speech2Text`` for sherpa-onnx into ``output_dir``
    (see the module docstring): a streaming graph for a streamable U2++ model, an offline
    one otherwise. Each graph is checked against the eager model with ONNX Runtime.

    Returns:
        The files written.
    """
    model = speech2text.asr_model.eval()
    check_ctc_model(model, "sherpa-onnx")
    encoder = model.encoder
    frontend = check_frontend(model)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    extend_positions(encoder, max_frames)
    geometry = subsampling_geometry(encoder.embed)
    metadata = {
        "model_type": "wenet_ctc",
        "vocab_size": len(model.token_list),
        "subsampling_factor": geometry.rate,
        "sample_rate": frontend.fs,
        "feature_dim": frontend.output_size(),
        "comment": f"espnet_omnirouter {type(model).__name__} {type(encoder).__name__}",
    }
    path = output_dir / "model.onnx"
    streaming = isinstance(encoder, U2ppConformerEncoder) and encoder.streamable
    with torch.no_grad():
        if streaming:
            metadata.update(_export_streaming(model, frontend.output_size(), path))
        else:
            _export_offline(model, frontend.output_size(), path)
    add_metadata(path, metadata)
    written = [path]
    if int8:
        quantized = output_dir / "model.int8.onnx"
        quantized.write_bytes(path.read_bytes())
        quantize_graph(quantized)
        add_metadata(quantized, metadata)
        written.append(quantized)
    tokens = output_dir / "tokens.txt"
    space_symbol = getattr(speech2text.tokenizer, "space_symbol", None)
    write_tokens(list(model.token_list), space_symbol, tokens)
    written.append(tokens)
    kind = "streaming" if streaming else "offline"
    log(f"done: {output_dir} ({kind} wenet_ctc: {', '.join(p.name for p in written)})")
    return written


def _fbank(shape: Tuple[int, ...], seed: int) -> np.ndarray:
    """Random features around a log filterbank's range (normalisation folded in)."""
    return (np.random.default_rng(seed).standard_normal(shape) * 3 + 8).astype(np.float32)


def _export_offline(model: torch.nn.Module, feat_size: int, path: Path) -> None:
    log("exporting the offline wenet_ctc graph (normalisation, encoder, CTC)")
    module = OfflineWenetCTC(model)
    example = (torch.from_numpy(_fbank((2, 73, feat_size), 0)), torch.tensor([73, 61]))
    axes = {"x": {0: "N", 1: "T"}, "x_lens": {0: "N"}, "log_probs": {0: "N", 1: "T_out"},
            "log_probs_lens": {0: "N"}}  # fmt: skip
    trace_to_onnx(module, example, path, ["x", "x_lens"], ["log_probs", "log_probs_lens"], axes)
    inputs = {"x": _fbank((3, 97, feat_size), 1), "x_lens": np.array([97, 40, 66])}
    check_against_eager("model", path, module, inputs)


def _export_streaming(model: torch.nn.Module, feat_size: int, path: Path) -> Dict[str, int]:
    """Trace the streaming graph; the metadata sherpa-onnx reads for its state."""
    encoder = model.encoder
    heads = encoder.encoders[0].self_attn.h
    size, blocks = encoder.output_size(), len(encoder.encoders)
    conv = encoder.encoders[0].conv_module
    kernel = 1 if conv is None else conv.lorder + 1
    chunk_size = encoder.decoding_chunk_size or 16
    left_chunks = encoder.num_decoding_left_chunks
    left_chunks = left_chunks if left_chunks > 0 else 4
    log(f"exporting the streaming wenet_ctc graph ({heads} heads, {blocks} blocks)")
    module = StreamingWenetCTC(model)

    def inputs(chunk: int, left: int, chunks_done: int, seed: int) -> Dict[str, np.ndarray]:
        window, _ = encoder.streaming_window(chunk)
        cache = chunk * left
        generator = np.random.default_rng(seed)
        valid = min(cache, chunks_done * chunk)
        attn_cache = generator.standard_normal((blocks, heads, cache, 2 * size // heads))
        return {
            "x": _fbank((1, window, feat_size), seed),
            "offset": np.array([cache + chunks_done * chunk], dtype=np.int64),
            "required_cache_size": np.array([cache], dtype=np.int64),
            "attn_cache": attn_cache.astype(np.float32),
            "conv_cache": generator.standard_normal((blocks, 1, size, kernel - 1)).astype(
                np.float32
            ),
            "attn_mask": (np.arange(cache + chunk) >= cache - valid)[None, None],
        }

    example = tuple(torch.from_numpy(value) for value in inputs(4, 2, 1, 0).values())
    names = ["x", "offset", "required_cache_size", "attn_cache", "conv_cache", "attn_mask"]
    outputs = ["log_probs", "next_att_cache", "next_conv_cache"]
    axes = {"x": {1: "T"}, "attn_cache": {2: "R"}, "attn_mask": {2: "R_plus_C"},
            "log_probs": {1: "C"}, "next_att_cache": {2: "R_out"}}  # fmt: skip
    trace_to_onnx(module, example, path, names, outputs, axes)
    for case in ((chunk_size, left_chunks, 0, 1), (3, 3, 5, 2), (5, 1, 1, 3)):
        check_against_eager("model", path, module, inputs(*case))
    return {
        "chunk_size": chunk_size,
        "left_chunks": left_chunks,
        "head": heads,
        "num_blocks": blocks,
        "output_size": size,
        "cnn_module_kernel": kernel,
        "right_context": encoder.right_context,
    }
