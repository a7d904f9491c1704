"""Deployment speed at the U2++ MoE paper's scale: its Dense-225M, MoE-1B and Dense-1B
(``benchmarks/conf/paper_scale``, random weights) exported with ``bin/export`` and decoded
one utterance at a time (batch 1) on the CPU, full context and streaming, in ONNX Runtime
and in eager PyTorch, with the MoE/dense ratios and each model's peak memory.

Every step with a large model runs in a process of its own, so that its memory (about 4 GB
per copy of a 1B-parameter model) is returned before the next:
    1. per model: build ESPnet's ``Speech2Text`` with random weights (seed 0) and export it
       with ``bin/export``'s ``export_model`` (no checkpoint is written or loaded);
    2. per --threads value, engine, decoding mode and large model: load Dense-225M and that
       model and time them interleaved (``common.interleaved_medians``): features, encoder,
       CTC log-probabilities and greedy search (streaming: the encoder chunk by chunk with
       its caches);
    3. per model and engine: decode the utterance once in each mode and read the peak RSS.

    python benchmarks/paper_scale.py    # ~1 h on 2 CPU cores; ~17 GB of exports in --workdir
"""

import argparse
import itertools
import json
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Callable, Dict, List

import numpy as np
import torch
import yaml
from common import (
    REPO_ROOT,
    interleaved_medians,
    markdown_table,
    random_weight_training_args,
    ratio,
    write_report,
)
from onnx_runtime import SAMPLE_RATE, eager_full, eager_streaming, runtime_streaming

import espnet_omnirouter  # noqa: F401  (registers the plugin)

CONF_DIR = REPO_ROOT / "benchmarks" / "conf" / "paper_scale"
MODELS = {"Dense-225M": "dense_225m", "MoE-1B": "moe_1b", "Dense-1B": "dense_1b"}
BASELINE = "Dense-225M"
VOCAB_SIZE = 5000  # the configs' stated parameter counts
MODES = ("full", "streaming")


def write_config(name: str, directory: Path) -> Path:
    """ESPnet's training config of a paper-scale model (char tokens): <directory>/config.yaml."""
    args = random_weight_training_args(CONF_DIR / f"train_u2pp_{name}.yaml", VOCAB_SIZE)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(vars(args)))
    return directory / "config.yaml"


def speech2text(directory: Path):
    """ESPnet's ``Speech2Text`` of <directory>/config.yaml with random weights (seed 0, so
    the export and the eager model have the same weights; no checkpoint of 4 GB written)."""
    from espnet2.bin.asr_inference import Speech2Text

    torch.manual_seed(0)
    return Speech2Text(asr_train_config=str(directory / "config.yaml"), device="cpu", beam_size=1)


def run_child(*arguments: str) -> str:
    """Run a step of this script in a new process; its stdout's last line."""
    command = [sys.executable, __file__, *arguments]
    result = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return result.stdout.strip().splitlines()[-1]


def export(directory: Path) -> None:
    """Child step: the model of <directory>/config.yaml exported into <directory>/onnx by
    ``bin/export``'s ``export_model``."""
    from espnet_omnirouter.export.exporter import export_model

    export_model(speech2text(directory), directory / "onnx")
    print("done")


def utterance(seconds: float) -> np.ndarray:
    generator = np.random.default_rng(0)
    return (0.1 * generator.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)


def decoders(engine: str, name: str, args) -> Dict[str, Callable[[], None]]:
    """Decoding of the benchmark utterance by one model, per mode."""
    samples = utterance(args.seconds)
    if engine == "onnx":
        from espnet_omnirouter.runtime.exported_model import ExportedModel

        runtime = ExportedModel(args.workdir / name / "onnx", args.threads)

        def full() -> None:
            encoded = runtime.encode(runtime.features(samples))
            runtime.ctc_log_probs(encoded).argmax(-1)

        return {"full": full, "streaming": runtime_streaming(runtime, samples, args.chunk_size)}
    torch.set_num_threads(args.threads)
    model, speech = speech2text(args.workdir / name).asr_model.eval(), torch.from_numpy(samples)
    return {
        "full": eager_full(model, speech),
        "streaming": eager_streaming(model, speech, args.chunk_size),
    }


def time_models(engine: str, mode: str, other: str, args) -> None:
    """Child step: the baseline and ``other`` in one engine and mode timed interleaved;
    prints {model: median seconds} as JSON."""
    names = (MODELS[BASELINE], other)
    candidates = {name: decoders(engine, name, args)[mode] for name in names}
    with torch.no_grad():
        times = interleaved_medians(candidates, args.repeats, torch.device("cpu"))
    print(json.dumps(times))


def peak_rss(engine: str, name: str, args) -> None:
    """Child step: one model decodes the utterance in both modes; prints the peak RSS in
    MiB of each (ONNX Runtime: one process per mode, as a deployment loads one graph)."""
    runs = decoders(engine, name, args)
    with torch.no_grad():
        for mode in [args.mode] if engine == "onnx" else MODES:
            runs[mode]()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


def child_arguments(args) -> List[str]:
    return [
        "--workdir", str(args.workdir), "--seconds", str(args.seconds),
        "--chunk_size", str(args.chunk_size), "--repeats", str(args.repeats),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workdir", type=Path, help="exports (default: a temporary dir)")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--chunk_size", type=int, default=16, help="streaming, encoder frames")
    parser.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--export", type=Path, metavar="DIR")
    parser.add_argument("--time", nargs=3, metavar=("ENGINE", "MODE", "MODEL"))
    parser.add_argument("--peak_rss", nargs=2, metavar=("ENGINE", "MODEL"))
    parser.add_argument("--mode", choices=MODES, default="full")
    args = parser.parse_args()
    if args.export:
        export(args.export)
        return
    if args.time or args.peak_rss:
        args.threads = args.threads[0]
        (time_models if args.time else peak_rss)(*(args.time or args.peak_rss), args)
        return
    temporary = args.workdir is None
    workdir = args.workdir = args.workdir or Path(tempfile.mkdtemp(prefix="paper_scale_"))
    try:
        for name in MODELS.values():
            if not (workdir / name / "onnx" / "export.json").is_file():
                print(f"[paper_scale] exporting {name} into {workdir / name}", flush=True)
                write_config(name, workdir / name)
                run_child("--export", str(workdir / name))
        report(args, measure(args))
    finally:
        if temporary:
            shutil.rmtree(workdir, ignore_errors=True)


def measure(args) -> Dict:
    """Medians per (threads, engine, mode, large model): {model: seconds} of the baseline
    and that model timed together; peak RSS per (engine, mode, model)."""
    results: Dict = {"times": {}, "rss": {}}
    large = [name for label, name in MODELS.items() if label != BASELINE]
    for threads, engine, mode, other in itertools.product(
        args.threads, ("onnx", "eager"), MODES, large
    ):
        print(f"[paper_scale] {engine} {mode}, {threads} threads: {other}", flush=True)
        line = run_child(
            "--time", engine, mode, other, "--threads", str(threads), *child_arguments(args)
        )
        results["times"][threads, engine, mode, other] = json.loads(line)
        print(f"[paper_scale] {line}", flush=True)
    for name in MODELS.values():
        for engine, modes in (("onnx", MODES), ("eager", ("full",))):
            for mode in modes:
                line = run_child(
                    "--peak_rss", engine, name, "--mode", mode, "--threads",
                    str(args.threads[0]), *child_arguments(args),
                )  # fmt: skip
                results["rss"][engine, mode, name] = float(line)
    return results


def report(args, results: Dict) -> None:
    from espnet_omnirouter.layers.moe.parameter_count import count_parameters, format_count
    from espnet_omnirouter.utils.model_config import build_model_from_config

    counts = {}
    for label, name in MODELS.items():
        with torch.device("meta"):
            model = build_model_from_config(CONF_DIR / f"train_u2pp_{name}.yaml", VOCAB_SIZE, None)
        counts[label] = count_parameters(model)
    seconds = args.seconds
    rows = []
    for threads in args.threads:
        for mode in MODES:
            for label, name in MODELS.items():
                decoding = "full context" if mode == "full" else f"streaming ({args.chunk_size})"
                total, active = (format_count(count) for count in counts[label])
                cells = [label, total, active, threads, decoding]
                # The baseline's row: from its run with the MoE model.
                other = name if label != BASELINE else MODELS["MoE-1B"]
                for engine in ("onnx", "eager"):
                    times = results["times"][threads, engine, mode, other]
                    cells += [f"{times[name] / seconds:.3f}",
                              ratio(times[name], times[MODELS[BASELINE]])]  # fmt: skip
                rss = results["rss"]
                cells += [f"{rss['onnx', mode, name]:.0f}", f"{rss['eager', 'full', name]:.0f}"]
                rows.append(cells)
    import onnxruntime

    write_report(
        "paper_scale_cpu",
        "Deployment at the U2++ MoE paper's scale: Dense-225M, MoE-1B, Dense-1B, batch 1 (cpu)",
        f"Models of `benchmarks/conf/paper_scale` (random weights, {VOCAB_SIZE} tokens), "
        f"exported with `bin/export`; one utterance of {seconds:.1f} s. RTF = decoding time / "
        "audio duration (features, encoder, CTC, greedy search; streaming: the encoder chunk "
        f"by chunk with caches, {args.chunk_size} frames of 40 ms). ONNX Runtime "
        f"{onnxruntime.__version__} and eager PyTorch with the given intra-op threads; median "
        f"of {args.repeats} interleaved repeats of {BASELINE} and one larger model, one engine "
        f"and mode at a time (a process each). *vs {BASELINE}*: time / time of {BASELINE} in "
        "that run. Peak RSS (MiB): one process per model decoding once (ONNX Runtime: the "
        "mode's graphs only; eager: the model, both modes).\n\n"
        + markdown_table(
            [
                "model",
                "params",
                "active",
                "threads",
                "decoding",
                "RTF onnx",
                f"onnx vs {BASELINE}",
                "RTF eager",
                f"eager vs {BASELINE}",
                "peak RSS onnx",
                "peak RSS eager",
            ],
            rows,
        ),  # fmt: skip
        torch.device("cpu"),
    )


if __name__ == "__main__":
    main()
