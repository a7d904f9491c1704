"""Deployment speed: eager PyTorch vs the ONNX Runtime export (bin/export + runtime/) of
the dense and MoE models of ``conf/`` (matched active parameters), batch 1, and how the
exported MoE encoder's time per frame grows with the number of experts at fixed top-k.

Models are built from the configs with random weights (50 tokens) and exported as
``bin/export`` does. Each candidate decodes the same utterance (``--seconds`` of noisy
audio at 16 kHz), timed interleaved with the others:
    full context: features, encoder, CTC, greedy search (eager: the model's frontend and
        ``encode``; runtime: numpy frontend, encoder.onnx, ctc.onnx);
    streaming (U2++): features, then the encoder chunk by chunk with attention and
        convolution caches (``--chunk_size`` encoder frames), CTC per chunk.
Scaling: the U2++ MoE encoder with E=2 and E=16 experts (top-2), full context, exported
with sparse routing and, for contrast, with every expert computed on every frame and
masked by the gates (the usual way to make MoE exportable).

    python benchmarks/onnx_runtime.py            # ~5 min on 2 CPU cores
"""

import argparse
import contextlib
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Callable, Dict, Iterator, Tuple

import numpy as np
import torch
import yaml
from common import (
    REPO_ROOT,
    interleaved_medians,
    markdown_table,
    onnx_session,
    random_weight_training_args,
    ratio,
    write_report,
)

import espnet_omnirouter  # noqa: F401  (registers the plugin)
from espnet_omnirouter.asr.decoding.speech2text import load_speech2text
from espnet_omnirouter.export.exporter import export_model
from espnet_omnirouter.export.onnx_modules import FullContextEncoder
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.parameter_count import count_parameters, format_count
from espnet_omnirouter.layers.moe.routing import RoutingRecord
from espnet_omnirouter.runtime.decoding import decode
from espnet_omnirouter.runtime.exported_model import ExportedModel

sys.path.insert(0, str(REPO_ROOT / "tests" / "layers" / "moe"))
from reference_dispatch import all_experts_moe  # noqa: E402  (the tests')

SAMPLE_RATE = 16000
VOCAB_SIZE = 50
PAIRS = {"CTC (Omni-router)": ("dense", "omni"), "U2++": ("u2pp_dense", "u2pp_moe")}


def prepare(config: Path, workdir: Path, num_experts: int | None = None):
    """Random-weight model of ``config`` as an experiment dir, loaded as ESPnet's
    ``Speech2Text`` (char tokens, no feature normalisation)."""
    from espnet2.tasks.asr import ASRTask

    args = random_weight_training_args(config, VOCAB_SIZE)
    if num_experts is not None:
        for part in ("encoder_conf", "decoder_conf"):
            if "moe_conf" in getattr(args, part, {}):
                getattr(args, part)["moe_conf"]["num_experts"] = num_experts
    torch.manual_seed(0)
    model = ASRTask.build_model(args)
    workdir.mkdir(parents=True)
    (workdir / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    torch.save(model.state_dict(), workdir / "model.pth")
    speech2text = load_speech2text(workdir / "config.yaml", workdir / "model.pth", beam_size=1)
    speech2text.asr_model.eval()
    return speech2text


def eager_full(model, samples: torch.Tensor) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            encoded, lengths = model.encode(samples[None], torch.tensor([len(samples)]))
            torch.unique_consecutive(model.ctc.argmax(encoded)[0, : lengths[0]])

    return run


def eager_streaming(model, samples: torch.Tensor, chunk_size: int) -> Callable[[], None]:
    def run() -> None:
        with torch.no_grad():
            feats, _ = model.frontend(samples[None], torch.tensor([len(samples)]))
            encoded = model.encoder.forward_chunk_by_chunk(feats, chunk_size)
            torch.unique_consecutive(model.ctc.argmax(encoded)[0])

    return run


def runtime_streaming(runtime: ExportedModel, samples: np.ndarray, chunk_size: int):
    def run() -> None:
        encoded = runtime.encode_chunk_by_chunk(runtime.features(samples), chunk_size)
        runtime.ctc_log_probs(encoded).argmax(-1)

    return run


@contextlib.contextmanager
def all_experts_for_export(model: torch.nn.Module) -> Iterator[None]:
    """Every MoE layer computes all E experts on every frame and masks them by the gates
    (``reference_dispatch.all_experts_moe``): exportable without data-dependent shapes."""

    def forward(layer: MoEFeedForward, xs: torch.Tensor, valid=None, router=None):
        tokens = xs.reshape(-1, xs.shape[-1])
        decision = (router or layer.router)(tokens, layer.top_k, layer.gate_normalization)
        experts = layer.experts
        combined = all_experts_moe(
            tokens, decision.expert_index, decision.gate, experts.w_1, experts.b_1,
            experts.w_2, experts.b_2, experts.activation,
        )  # fmt: skip
        return combined.view(xs.shape), RoutingRecord(layer, decision, None)

    layers = [m for m in model.modules() if isinstance(m, MoEFeedForward)]
    for layer in layers:
        layer.forward = forward.__get__(layer)
    try:
        yield
    finally:
        for layer in layers:
            del layer.forward


def all_experts_encoder(speech2text, path: Path, threads: int):
    """ONNX Runtime session of the full-context encoder exported with all experts."""
    module = FullContextEncoder(speech2text.asr_model.encoder).eval()
    feats = torch.randn(1, 200, speech2text.asr_model.frontend.output_size())
    with all_experts_for_export(module), warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (feats, torch.tensor([200])), str(path), dynamo=False, opset_version=20,
            input_names=["feats", "feats_lens"], output_names=["encoder_out", "encoder_out_lens"],
            dynamic_axes={"feats": {1: "T"}, "encoder_out": {1: "T_out"}},
        )  # fmt: skip
    return onnx_session(str(path), threads)


def encoder_run(session, feats: np.ndarray) -> Callable[[], None]:
    inputs = {"feats": feats[None], "feats_lens": np.array([len(feats)], np.int64)}
    return lambda: session.run(None, inputs)


def rtf_comparison(args, samples: np.ndarray, workdir: Path) -> Tuple[list, str]:
    seconds = len(samples) / SAMPLE_RATE
    candidates: Dict[str, Callable[[], None]] = {}
    rows_spec = []
    for family, names in PAIRS.items():
        for name in names:
            speech2text = prepare(args.conf_dir / f"train_{name}.yaml", workdir / name)
            export_model(speech2text, workdir / name / "onnx")
            runtime = ExportedModel(workdir / name / "onnx", args.threads)
            model = speech2text.asr_model
            candidates[f"{name} eager"] = eager_full(model, torch.from_numpy(samples))
            candidates[f"{name} onnx"] = lambda r=runtime: decode(r, samples, "ctc_greedy")
            count = count_parameters(model.encoder)
            modes = ["full"]
            if runtime.streamable:
                candidates[f"{name} eager stream"] = eager_streaming(
                    model, torch.from_numpy(samples), args.chunk_size
                )
                candidates[f"{name} onnx stream"] = runtime_streaming(
                    runtime, samples, args.chunk_size
                )
                modes.append("stream")
            rows_spec.append((family, name, count, modes))
    print(f"[bench] timing {len(candidates)} candidates x {args.repeats} repeats", flush=True)
    times = interleaved_medians(candidates, args.repeats, torch.device("cpu"))
    rows = []
    for family, name, count, modes in rows_spec:
        dense = PAIRS[family][0]
        for mode in modes:
            suffix = "" if mode == "full" else " stream"
            eager, onnx = times[f"{name} eager{suffix}"], times[f"{name} onnx{suffix}"]
            base_eager, base_onnx = times[f"{dense} eager{suffix}"], times[f"{dense} onnx{suffix}"]
            rows.append(
                [name, "full context" if mode == "full" else f"streaming ({args.chunk_size})",
                 format_count(count.total), format_count(count.active),
                 f"{eager / seconds:.4f}", f"{onnx / seconds:.4f}", ratio(eager, onnx),
                 ratio(eager, base_eager), ratio(onnx, base_onnx)]
            )  # fmt: skip
            print(rows[-1], flush=True)
    return rows, f"{seconds:.1f} s"


def scaling(args, samples: np.ndarray, workdir: Path) -> list:
    config = args.conf_dir / "train_u2pp_moe.yaml"
    candidates, frames, counts = {}, {}, {}
    for experts in args.experts:
        speech2text = prepare(config, workdir / f"e{experts}", num_experts=experts)
        export_model(speech2text, workdir / f"e{experts}" / "onnx")
        runtime = ExportedModel(workdir / f"e{experts}" / "onnx", args.threads)
        feats = runtime.features(samples)
        frames[experts] = runtime.encode(feats).shape[1]
        counts[experts] = count_parameters(speech2text.asr_model.encoder)
        dense_session = all_experts_encoder(
            speech2text, workdir / f"e{experts}" / "all_experts.onnx", args.threads
        )
        candidates[f"{experts} sparse"] = encoder_run(runtime.session("encoder"), feats)
        candidates[f"{experts} all"] = encoder_run(dense_session, feats)
        model, feats_t = speech2text.asr_model, torch.from_numpy(feats)[None]
        candidates[f"{experts} eager"] = lambda m=model, f=feats_t: m.encoder(
            f, torch.tensor([f.shape[1]])
        )
    with torch.no_grad():
        times = interleaved_medians(candidates, args.repeats, torch.device("cpu"))
    first = args.experts[0]
    rows = []
    for experts in args.experts:
        per_frame = {
            kind: times[f"{experts} {kind}"] / frames[experts] * 1e3
            for kind in ("sparse", "all", "eager")
        }
        ratios = {
            kind: ratio(times[f"{experts} {kind}"], times[f"{first} {kind}"])
            for kind in ("sparse", "all", "eager")
        }
        rows.append(
            [experts, format_count(counts[experts].total), format_count(counts[experts].active),
             f"{per_frame['sparse']:.3f}", ratios["sparse"], f"{per_frame['all']:.3f}",
             ratios["all"], f"{per_frame['eager']:.3f}", ratios["eager"]]
        )  # fmt: skip
        print(rows[-1], flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conf_dir", type=Path, default=REPO_ROOT / "conf")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--chunk_size", type=int, default=16, help="streaming, encoder frames")
    parser.add_argument("--experts", type=int, nargs=2, default=[2, 16])
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = np.random.default_rng(0)
    samples = (0.1 * generator.standard_normal(int(args.seconds * SAMPLE_RATE))).astype(np.float32)
    device = torch.device("cpu")
    with tempfile.TemporaryDirectory() as workdir:
        rows, duration = rtf_comparison(args, samples, Path(workdir) / "rtf")
        scaling_rows = scaling(args, samples, Path(workdir) / "scaling")
    import onnxruntime

    engines = f"ONNX Runtime {onnxruntime.__version__} ({args.threads} intra-op threads)"
    write_report(
        "onnx_runtime_rtf_cpu",
        "Deployment: eager PyTorch vs ONNX Runtime, batch 1 (cpu)",
        f"One utterance of {duration}, batch 1, {engines}; median of {args.repeats} "
        "interleaved repeats. RTF = decoding time / audio duration (features, encoder, "
        "CTC, greedy search; streaming: the encoder chunk by chunk with caches). "
        "*speed-up* = eager / ONNX Runtime; *vs dense* = time of the model / time of the "
        "dense model of its family on the same engine (the MoE models have the dense "
        "models' active parameters). Random weights, MoE layers exported with sparse "
        "top-k routing.\n\n"
        + markdown_table(
            [
                "model",
                "decoding",
                "encoder params",
                "active",
                "RTF eager",
                "RTF onnx",
                "speed-up",
                "eager vs dense",
                "onnx vs dense",
            ],
            rows,
        ),  # fmt: skip
        device,
    )
    first, last = args.experts
    write_report(
        "onnx_runtime_scaling_cpu",
        f"Deployment: exported MoE encoder time per frame, E={first} vs E={last} (cpu)",
        f"U2++ MoE encoder of `conf/train_u2pp_moe.yaml` (top-2 of E, 12 MoE layers), full "
        f"context, {duration} of audio, batch 1, {engines}; median of {args.repeats} "
        "interleaved repeats. *sparse*: the export of bin/export (each expert computes only "
        "its frames); *all experts*: every expert on every frame, masked by the gates; "
        f"*eager*: PyTorch with the `loop` backend. Ratios: time / time at E={first}. Random "
        "weights.\n\n"
        + markdown_table(
            [
                "E",
                "encoder params",
                "active",
                "sparse ms/frame",
                "ratio",
                "all experts ms/frame",
                "ratio",
                "eager ms/frame",
                "ratio",
            ],
            scaling_rows,
        ),  # fmt: skip
        device,
    )


if __name__ == "__main__":
    main()
