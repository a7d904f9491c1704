"""End to end: training step time, decoding real-time factor and peak memory of the
dense, Switch and Omni-router ASR models of ``conf/`` (matched active parameters).

Speed: the models are built in one process and timed interleaved on the same random
batch (``--batch`` utterances of 3 to 4 s, sorted as ESPnet batches them): one
training step (forward with CTC and MoE losses, backward, Adam step) and CTC greedy
decoding (frontend, encoder, argmax), utterance by utterance (batch 1) and as one
batch. Memory: each model in its own process, peak RSS (CUDA: max allocated) while
decoding the batch, then during two training steps (the peak is reset in between).

    python benchmarks/end_to_end.py                         # CPU configs, ~5 min
    python benchmarks/end_to_end.py --models u2pp_dense u2pp_moe   # U2++ (full context)
    python benchmarks/end_to_end.py --conf_dir conf/large --device cuda
"""

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import torch
from common import REPO_ROOT, interleaved_medians, markdown_table, ratio, write_report

from espnet_omnirouter.layers.moe.parameter_count import count_parameters, format_count
from espnet_omnirouter.utils.model_config import build_model_from_config

SAMPLE_RATE = 16000
VOCAB_SIZE = 50
DEFAULT_MODELS = ["dense", "switch", "omni"]


def random_batch(batch: int, device: torch.device) -> Tuple[torch.Tensor, ...]:
    generator = torch.Generator().manual_seed(0)
    seconds = torch.linspace(4.0, 3.0, batch)
    lengths = (seconds * SAMPLE_RATE).long()
    speech = torch.randn(batch, int(lengths[0]), generator=generator) * 0.1
    for row, length in enumerate(lengths):
        speech[row, length:] = 0.0
    text_lengths = torch.full((batch,), 30)
    text = torch.randint(2, VOCAB_SIZE - 1, (batch, 30), generator=generator)
    return tuple(t.to(device) for t in (speech, lengths, text, text_lengths))


def build(config: Path, device: torch.device) -> torch.nn.Module:
    return build_model_from_config(config, VOCAB_SIZE, None).to(device)


def training_step(model, optimizer, batch) -> Callable[[], None]:
    speech, lengths, text, text_lengths = batch

    def step() -> None:
        model.train()
        optimizer.zero_grad()
        loss, _, _ = model(speech, lengths, text, text_lengths)
        loss.backward()
        optimizer.step()

    return step


def ctc_greedy(model, speech: torch.Tensor, lengths: torch.Tensor) -> List[torch.Tensor]:
    encoded, encoded_lengths = model.encode(speech, lengths)
    best = model.ctc.argmax(encoded)
    return [torch.unique_consecutive(path[:n]) for path, n in zip(best, encoded_lengths)]


def decoding(model, batch, batched: bool) -> Callable[[], None]:
    speech, lengths = batch[0], batch[1]

    def decode() -> None:
        model.eval()
        with torch.no_grad():
            if batched:
                ctc_greedy(model, speech, lengths)
            else:
                for row, length in zip(speech, lengths):
                    ctc_greedy(model, row[None, :length], length[None])

    return decode


def reset_peak_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    else:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM, the peak RSS


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE).group(1)) / 1024


def memory_worker(args) -> None:
    """Print this process's peak memory after decoding, then after training."""
    device = torch.device(args.device)
    model = build(Path(args.conf_dir) / f"train_{args.memory_worker}.yaml", device)
    batch = random_batch(args.batch, device)
    reset_peak_memory(device)
    decoding(model, batch, batched=True)()
    decode_peak = peak_memory_mb(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    reset_peak_memory(device)
    for _ in range(2):
        training_step(model, optimizer, batch)()
    print(json.dumps({"decode": decode_peak, "train": peak_memory_mb(device)}))


def measure_memory(args, name: str) -> Dict[str, float]:
    command = [sys.executable, __file__, "--memory_worker", name, "--conf_dir", args.conf_dir,
               "--device", args.device, "--batch", str(args.batch)]  # fmt: skip
    completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--conf_dir", default=str(REPO_ROOT / "conf"))
    parser.add_argument("--models", nargs="+", default=DEFAULT_MODELS)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--memory_worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_worker:
        memory_worker(args)
        return

    device = torch.device(args.device)
    batch = random_batch(args.batch, device)
    audio_seconds = float(batch[1].sum()) / SAMPLE_RATE
    models = {
        name: build(Path(args.conf_dir) / f"train_{name}.yaml", device) for name in args.models
    }
    optimizers = {name: torch.optim.Adam(m.parameters(), lr=1e-4) for name, m in models.items()}
    train = interleaved_medians(
        {name: training_step(m, optimizers[name], batch) for name, m in models.items()},
        args.repeats,
        device,
    )
    rtf = {}
    for batched in (False, True):
        times = interleaved_medians(
            {name: decoding(m, batch, batched) for name, m in models.items()}, args.repeats, device
        )
        rtf[batched] = {name: seconds / audio_seconds for name, seconds in times.items()}
    memory = {name: measure_memory(args, name) for name in args.models}

    base = args.models[0]
    rows = []
    for name, model in models.items():
        count = count_parameters(model)
        rows.append(
            [name, format_count(count.total), format_count(count.active),
             f"{train[name] * 1e3:.0f}", ratio(train[name], train[base]),
             f"{rtf[False][name]:.4f}", ratio(rtf[False][name], rtf[False][base]),
             f"{rtf[True][name]:.4f}", ratio(rtf[True][name], rtf[True][base]),
             f"{memory[name]['train']:.0f}", f"{memory[name]['decode']:.0f}"]
        )  # fmt: skip
        print(rows[-1], flush=True)
    memory_kind = "CUDA max allocated" if device.type == "cuda" else "peak RSS"
    models_key = "" if args.models == DEFAULT_MODELS else "_" + "_".join(args.models)
    write_report(
        f"end_to_end_{args.device}_{Path(args.conf_dir).name}{models_key}",
        f"End to end: {', '.join(args.models)} models of `{Path(args.conf_dir).name}/` "
        f"({args.device})",
        f"Random weights, a batch of {args.batch} utterances of random audio "
        f"({audio_seconds:.1f} s); median of "
        f"{args.repeats} interleaved repeats; ratios relative to {base}. Decoding is CTC "
        f"greedy; RTF = decoding time / audio duration. Memory: {memory_kind} in MiB, one "
        "process per model.\n\n"
        + markdown_table(
            [
                "model",
                "params",
                "active",
                "train step ms",
                "step ratio",
                "RTF batch 1",
                "RTF ratio",
                f"RTF batch {args.batch}",
                "RTF ratio",
                "train MiB",
                "decode MiB",
            ],
            rows,
        ),  # fmt: skip
        device,
    )


if __name__ == "__main__":
    main()
