"""MoE FFN layer vs the dense FFN of equal active size, and time per token as E grows.

For every model width D, token count and top-k, one interleaved run times ESPnet's
dense ``PositionwiseFeedForward`` with ``top_k * H`` hidden units (the same active
parameters per token as the MoE layer) and ``MoEFeedForward`` with each number of
experts E (router included, random initial routing, which is close to balanced).
Training passes (forward + backward, gradients set to None before each, as
``optimizer.zero_grad()`` does) and inference passes (eval, no grad) are timed.

Writes two tables to BENCHMARKS.md: MoE / dense time ratios, and each E's time per
token relative to E=2.

    python benchmarks/moe_layer.py                       # the full grid, ~25 min on 2 cores
    python benchmarks/moe_layer.py --device cuda --dtype bfloat16
"""

import argparse
from typing import Callable, Dict, List

import torch
from common import interleaved_medians, markdown_table, ratio, write_report

from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.utils.legacy_nets import (
    PositionwiseFeedForward,
)


def output(layer: torch.nn.Module, xs: torch.Tensor) -> torch.Tensor:
    """The layer's output (a MoE layer also returns its routing record)."""
    ys = layer(xs)
    return ys[0] if isinstance(layer, MoEFeedForward) else ys


def training_pass(layer: torch.nn.Module, xs: torch.Tensor, grad: torch.Tensor, dtype):
    def run() -> None:
        layer.zero_grad(set_to_none=True)
        with torch.autocast(xs.device.type, dtype=dtype, enabled=dtype != torch.float32):
            out = output(layer, xs)
        out.backward(grad.to(out.dtype))

    return run


def inference_pass(layer: torch.nn.Module, xs: torch.Tensor, dtype):
    def run() -> None:
        with (
            torch.no_grad(),
            torch.autocast(xs.device.type, dtype=dtype, enabled=dtype != torch.float32),
        ):
            output(layer, xs)

    return run


def build_layers(
    dim: int, top_k: int, experts: List[int], backend: str, device: torch.device
) -> Dict[str, torch.nn.Module]:
    hidden = 4 * dim
    gate = "full_softmax" if top_k == 1 else "topk_softmax"
    layers: Dict[str, torch.nn.Module] = {
        "dense": PositionwiseFeedForward(dim, top_k * hidden, 0.0, torch.nn.SiLU())
    }
    for num_experts in experts:
        layers[f"E={num_experts}"] = MoEFeedForward(
            dim, hidden, 0.0, torch.nn.SiLU(), num_experts, top_k, gate, expert_backend=backend
        )
    return {name: layer.to(device) for name, layer in layers.items()}


def measure(args, dim: int, tokens: int, top_k: int) -> Dict[str, Dict[str, float]]:
    device = torch.device(args.device)
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    layers = build_layers(dim, top_k, args.experts, args.backend, device)
    xs = torch.randn(1, tokens, dim, device=device)
    grad = torch.randn(1, tokens, dim, device=device)
    results = {}
    for mode, make in (
        ("fwd", lambda layer: inference_pass(layer.eval(), xs, dtype)),
        ("fwd+bwd", lambda layer: training_pass(layer.train(), xs, grad, dtype)),
    ):
        passes: Dict[str, Callable[[], None]] = {name: make(ly) for name, ly in layers.items()}
        results[mode] = interleaved_medians(passes, args.repeats, device)
        print(
            f"D={dim} tokens={tokens} top-{top_k} {mode}: "
            + ", ".join(f"{name} {sec * 1e3:.1f} ms" for name, sec in results[mode].items()),
            flush=True,
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--backend", default="loop", choices=["loop", "grouped_mm"])
    parser.add_argument("--experts", type=int, nargs="+", default=[2, 4, 8, 16, 64])
    parser.add_argument("--top_k", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tokens", type=int, nargs="+", default=[2048, 8192, 32768])
    parser.add_argument("--dims", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    ratio_rows, scaling_rows = [], []
    for dim in args.dims:
        for tokens in args.tokens:
            for top_k in args.top_k:
                result = measure(args, dim, tokens, top_k)
                fwd, train = result["fwd"], result["fwd+bwd"]
                for num_experts in args.experts:
                    name = f"E={num_experts}"
                    ratio_rows.append(
                        [dim, tokens, top_k, num_experts, ratio(fwd[name], fwd["dense"]),
                         ratio(train[name], train["dense"]), f"{train[name] * 1e3:.1f}"]
                    )  # fmt: skip
                smallest = f"E={args.experts[0]}"
                scaling_rows.append(
                    [dim, tokens, top_k]
                    + [ratio(train[f"E={e}"], train[smallest]) for e in args.experts[1:]]
                    + [ratio(fwd[f"E={e}"], fwd[smallest]) for e in args.experts[1:]]
                )
    device = torch.device(args.device)
    setting = f"{args.device}, {args.dtype}, expert backend `{args.backend}`"
    backend_key = "" if args.backend == "loop" else f"_{args.backend}"  # loop: older sections
    write_report(
        f"moe_layer_{args.device}_{args.dtype}{backend_key}",
        f"MoE layer vs dense FFN of equal active size ({setting})",
        "Median time ratio MoE / dense (dense hidden size = top-k x expert hidden size "
        f"4D; {args.repeats} interleaved repeats). Random weights and inputs.\n\n"
        + markdown_table(
            ["D", "tokens", "top-k", "E", "fwd ratio", "fwd+bwd ratio", "MoE fwd+bwd ms"],
            ratio_rows,
        ),
        device,
    )
    later = args.experts[1:]
    write_report(
        f"moe_scaling_{args.device}_{args.dtype}{backend_key}",
        f"Time per token as the number of experts grows ({setting})",
        f"Median time of E experts / time of E={args.experts[0]}, same tokens and top-k. "
        "Random weights and inputs.\n\n"
        + markdown_table(
            ["D", "tokens", "top-k"]
            + [f"fwd+bwd E={e}" for e in later]
            + [f"fwd E={e}" for e in later],
            scaling_rows,
        ),
        device,
    )


if __name__ == "__main__":
    main()
