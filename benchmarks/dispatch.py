"""Our dispatch vs the common reference computations of a MoE layer, same routing.

Candidates, all given the same tokens, expert choices and gates (the router is not
timed), checked to give the same outputs and gradients before they are timed:
    ``ours (loop)``, ``ours (grouped_mm)``: ``dispatch_and_combine`` with each expert
        backend (sort, one gather, grouped matmuls, one scatter-add);
    ``where loop``: WeNet's ``MoEFFNLayer``: one ``torch.where`` per expert and
        separate expert weights;
    ``all experts``: every expert on every token, gated sum (E x the compute; only
        run up to ``--all_experts_max`` experts).

    python benchmarks/dispatch.py                  # ~10 min on 2 cores
"""

import argparse
import sys
from typing import Callable, Dict, List, Tuple

import torch
from common import REPO_ROOT, interleaved_medians, markdown_table, ratio, write_report

from espnet_omnirouter.layers.moe.dispatch import dispatch_and_combine
from espnet_omnirouter.layers.moe.experts import StackedExperts

sys.path.insert(0, str(REPO_ROOT / "tests" / "layers" / "moe"))
from reference_dispatch import all_experts_moe, where_loop_moe  # noqa: E402  (the tests')

ACTIVATION = torch.nn.SiLU()


MoEFunction = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]


def candidates(
    experts: StackedExperts, num_experts: int, all_experts_max: int
) -> Dict[str, Tuple[MoEFunction, List[torch.Tensor]]]:
    """Name -> (function(tokens, expert_index, gate), the weights it trains), each
    candidate with its own weight copies."""
    stacked = [experts.w_1, experts.b_1, experts.w_2, experts.b_2]
    grouped_mm = StackedExperts(num_experts, *experts.w_1.shape[1:], 0.0, ACTIVATION, "grouped_mm")
    grouped_mm.load_state_dict(experts.state_dict())
    # Separate leaf tensors per expert, as WeNet's list of expert modules has.
    per_expert = [
        tuple(p.detach()[e].clone().requires_grad_() for p in stacked) for e in range(num_experts)
    ]
    found = {
        "ours (loop)": lambda x, i, g: dispatch_and_combine(x, i, g, experts),
        "ours (grouped_mm)": lambda x, i, g: dispatch_and_combine(x, i, g, grouped_mm),
        "where loop": lambda x, i, g: where_loop_moe(x, i, g, per_expert, ACTIVATION),
    }
    if num_experts <= all_experts_max:
        found["all experts"] = lambda x, i, g: all_experts_moe(x, i, g, *stacked, ACTIVATION)
    parameters = {
        "ours (loop)": list(experts.parameters()),
        "ours (grouped_mm)": list(grouped_mm.parameters()),
        "where loop": [p for weights in per_expert for p in weights],
        "all experts": stacked,
    }
    return {name: (run, parameters[name]) for name, run in found.items()}


def check_agreement(found, tokens, expert_index, gate, grad) -> None:
    """Assert all candidates give the same output and token/gate gradients."""
    results = []
    for run, _ in found.values():
        x, g = tokens.clone().requires_grad_(), gate.clone().requires_grad_()
        out = run(x, expert_index, g)
        out.backward(grad)
        results.append((out.detach(), x.grad, g.grad))
    for name, result in zip(found, results):
        for got, want in zip(result, results[0]):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4, msg=name)


def measure(args, tokens: int, top_k: int, num_experts: int) -> Dict[str, Dict[str, float]]:
    torch.manual_seed(0)
    dim = args.dim
    experts = StackedExperts(num_experts, dim, 4 * dim, 0.0, ACTIVATION)
    found = candidates(experts, num_experts, args.all_experts_max)
    xs = torch.randn(tokens, dim)
    grad = torch.randn(tokens, dim)
    expert_index = torch.rand(tokens, num_experts).argsort(dim=-1)[:, :top_k]
    gate = torch.rand(tokens, top_k)
    check_agreement(found, xs, expert_index, gate, grad)

    def training_pass(run, parameters):
        def step() -> None:
            for p in parameters:
                p.grad = None
            run(xs, expert_index, gate).backward(grad)

        return step

    def inference_pass(run, _):
        def step() -> None:
            with torch.no_grad():
                run(xs, expert_index, gate)

        return step

    return {
        mode: interleaved_medians(
            {name: make(*item) for name, item in found.items()},
            args.repeats,
            torch.device("cpu"),
        )
        for mode, make in (("fwd", inference_pass), ("fwd+bwd", training_pass))
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--experts", type=int, nargs="+", default=[2, 4, 8, 16, 64])
    parser.add_argument("--top_k", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--tokens", type=int, nargs="+", default=[2048, 8192])
    parser.add_argument("--all_experts_max", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    rows: List[List[object]] = []
    for tokens in args.tokens:
        for top_k in args.top_k:
            for num_experts in args.experts:
                result = measure(args, tokens, top_k, num_experts)
                for mode, times in result.items():
                    ours = times["ours (loop)"]
                    print(
                        f"tokens={tokens} top-{top_k} E={num_experts} {mode}: "
                        + ", ".join(f"{k} {v * 1e3:.1f} ms" for k, v in times.items()),
                        flush=True,
                    )
                    rows.append(
                        [tokens, top_k, num_experts, mode, f"{ours * 1e3:.1f}",
                         ratio(times["where loop"], ours),
                         ratio(times["ours (grouped_mm)"], ours),
                         ratio(times["all experts"], ours) if "all experts" in times else "-"]
                    )  # fmt: skip
    write_report(
        "dispatch_cpu",
        f"Dispatch: ours vs reference computations (cpu, D={args.dim}, H={4 * args.dim})",
        "Outputs and gradients of all candidates are asserted equal before timing. "
        "Ratios are candidate time / ours (loop): above 1 means ours is faster. "
        f"Median of {args.repeats} interleaved repeats; random weights and inputs, routing "
        "uniform at random.\n\n"
        + markdown_table(
            [
                "tokens",
                "top-k",
                "E",
                "pass",
                "ours (loop) ms",
                "where loop (WeNet) / ours",
                "ours (grouped_mm) / ours",
                "all experts / ours",
            ],
            rows,
        ),  # fmt: skip
        torch.device("cpu"),
    )


if __name__ == "__main__":
    main()
