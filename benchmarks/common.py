"""Shared helpers of the benchmark scripts: timing, machine description, reports.

Every figure the scripts print is a ratio of two medians measured in the same run,
with the candidates interleaved round-robin so that a noisy neighbour slows them
alike. Reports go to stdout and into a marked section of ``BENCHMARKS.md``, which a
rerun replaces in place; each names its command, the date of the run and the machine.
"""

import argparse
import datetime
import os
import platform
import re
import shlex
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Sequence

import torch

from espnet_omnirouter.utils.model_config import training_args_from_config

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCHMARKS_MD = REPO_ROOT / "BENCHMARKS.md"


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def interleaved_medians(
    candidates: Dict[str, Callable[[], object]],
    repeats: int,
    device: torch.device,
    warmup: int = 2,
    min_sample_seconds: float = 0.1,
) -> Dict[str, float]:
    """Median wall time (seconds) of one call of each candidate, run round-robin
    ``repeats`` times. A candidate faster than ``min_sample_seconds`` (timed in the
    warm-up) is called several times per sample, so that timer resolution and short
    stalls of the shared machine do not decide its median (the call count comes from
    the last warm-up round; the first includes one-time allocations)."""
    calls = dict.fromkeys(candidates, 1)
    for _ in range(warmup):
        for name, run in candidates.items():
            synchronize(device)
            start = time.perf_counter()
            run()
            synchronize(device)
            calls[name] = max(1, round(min_sample_seconds / (time.perf_counter() - start)))
    times: Dict[str, List[float]] = {name: [] for name in candidates}
    for _ in range(repeats):
        for name, run in candidates.items():
            synchronize(device)
            start = time.perf_counter()
            for _ in range(calls[name]):
                run()
            synchronize(device)
            times[name].append((time.perf_counter() - start) / calls[name])
    return {name: statistics.median(values) for name, values in times.items()}


def malloc_setting() -> str:
    """``tuned`` when tools/malloc_env.sh was sourced, else ``default``."""
    return "tuned" if os.environ.get("MALLOC_MMAP_MAX_") == "0" else "default"


def describe_machine(device: torch.device) -> str:
    """One line: CPU model, threads, torch version, malloc, the GPU when used, and the
    load from other processes (1-minute load average when the report is written)."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        match = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        if match:
            cpu = match.group(1).strip()
    line = (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads), {malloc_setting()} glibc malloc"
    )
    if device.type == "cuda":
        line += f", {torch.cuda.get_device_name(device)}"
    return line + f"; load average {os.getloadavg()[0]:.1f}"


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def command_line() -> str:
    script = Path(sys.argv[0]).resolve().relative_to(REPO_ROOT)
    return shlex.join(["python", str(script), *sys.argv[1:]])


def write_report(section: str, title: str, body: str, device: torch.device) -> None:
    """Print ``body`` and store it as ``section`` of BENCHMARKS.md (replacing an old one)."""
    text = (
        f"### {title}\n\n"
        f"Command: `{command_line()}` (run on {datetime.date.today().isoformat()}). "
        f"Machine: {describe_machine(device)}.\n\n{body}\n"
    )
    print(text)
    section = f"{section}_{malloc_setting()}_malloc"
    begin, end = f"<!-- {section} begin -->", f"<!-- {section} end -->"
    block = f"{begin}\n{text}{end}"
    current = BENCHMARKS_MD.read_text() if BENCHMARKS_MD.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin) + ".*?" + re.escape(end), re.DOTALL)
    if pattern.search(current):
        updated = pattern.sub(lambda _: block, current)
    else:
        updated = current.rstrip("\n") + "\n\n" + block + "\n"
    temporary = BENCHMARKS_MD.with_suffix(".md.tmp")
    temporary.write_text(updated)
    temporary.replace(BENCHMARKS_MD)


def onnx_session(model: bytes | str, threads: int):
    """An ONNX Runtime CPU session of ``model`` (serialised graph or path) with ``threads``
    intra-op threads."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def random_weight_training_args(config: Path, vocab_size: int) -> argparse.Namespace:
    """ESPnet's ASR training options of ``config`` for a model with random weights that
    ``Speech2Text`` can load: ``vocab_size`` placeholder char tokens, no BPE model, no
    feature normalisation (``training_args_from_config``)."""
    args = training_args_from_config(config, vocab_size)
    vars(args).update(token_type="char", bpemodel=None)
    return args


def ratio(value: float, baseline: float) -> str:
    return f"{value / baseline:.2f}"
