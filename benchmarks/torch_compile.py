"""Does ``torch.compile`` speed up the recipe's encoders? Eager vs compiled, one run.

Usage: python benchmarks/torch_compile.py [--models dense omni u2pp_moe] [--device cpu]
                                          [--modes decode train]

For each ``conf/train_<model>.yaml`` (random weights), the encoder alone (features in,
ESPnet's frontend outside the timing) is timed eagerly and compiled with
``torch.compile(encoder, dynamic=True)`` (inductor): a decoding forward (no gradients) and a
training forward + backward, on a batch of 3-4 s utterances. The compiled encoder is called
on two other lengths first, so that its dynamic graph, not a specialised one, is timed.
Writes a table to BENCHMARKS.md: median compiled / eager time ratios (below 1: compiling
helps) and the compile time.
"""

import argparse
import time
from typing import Callable, Dict

import torch
from common import REPO_ROOT, interleaved_medians, markdown_table, ratio, write_report
from end_to_end import random_batch

from espnet_omnirouter.utils.model_config import build_model_from_config


def encoder_calls(encoder, feats, lengths) -> Dict[str, Callable[[], None]]:
    def decode() -> None:
        encoder.eval()
        with torch.no_grad():
            encoder(feats, lengths)

    def train() -> None:
        encoder.train()
        encoded, _, _ = encoder(feats, lengths)
        encoded.square().mean().backward()

    return {"decode": decode, "train": train}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", nargs="+", default=["dense", "omni", "u2pp_moe"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--modes", nargs="+", default=["decode", "train"], choices=["decode", "train"]
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = []
    for name in args.models:
        torch.manual_seed(0)
        model = build_model_from_config(REPO_ROOT / "conf" / f"train_{name}.yaml", 50, None)
        model = model.to(device).eval()
        speech, lengths = random_batch(args.batch, device)[:2]
        with torch.no_grad():
            feats, feats_lengths = model._extract_feats(speech, lengths)
        eager = encoder_calls(model.encoder, feats, feats_lengths)
        compiled_encoder = torch.compile(model.encoder, dynamic=True)
        start = time.perf_counter()
        for frames in (feats.size(1) - 37, feats.size(1) - 11):  # compile the dynamic graph
            shorter = encoder_calls(
                compiled_encoder, feats[:, :frames], feats_lengths.clamp(max=frames)
            )
            for mode in args.modes:
                shorter[mode]()
        compile_seconds = time.perf_counter() - start
        compiled = encoder_calls(compiled_encoder, feats, feats_lengths)
        candidates = {
            f"{mode} {kind}": calls[mode]
            for kind, calls in (("eager", eager), ("compiled", compiled))
            for mode in args.modes
        }
        medians = interleaved_medians(candidates, args.repeats, device)
        row = [name]
        for mode in args.modes:
            eager_ms = medians[f"{mode} eager"] * 1e3
            row += [f"{eager_ms:.0f}", ratio(medians[f"{mode} compiled"], medians[f"{mode} eager"])]
        rows.append(row + [f"{compile_seconds:.0f}"])
        print(rows[-1], flush=True)
    write_report(
        f"torch_compile_{args.device}_{'_'.join(args.modes)}",
        f"torch.compile of the recipe's encoders ({args.device})",
        f"Random weights, the encoder of `conf/train_<model>.yaml` on the features of a batch of "
        f"{args.batch} utterances of 3-4 s; median of {args.repeats} interleaved repeats. "
        "Ratio = compiled / eager time (below 1: compiling helps); compile = seconds to "
        "compile the graphs of the timed modes for dynamic lengths.\n\n"
        + markdown_table(
            ["model"]
            + [f"{mode} {column}" for mode in args.modes for column in ("eager ms", "ratio")]
            + ["compile s"],
            rows,
        ),
        device,
    )


if __name__ == "__main__":
    main()
