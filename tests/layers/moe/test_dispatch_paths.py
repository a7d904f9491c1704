"""Every way of computing a MoE layer gives the same outputs and gradients."""

import pytest
import torch
from reference_dispatch import all_experts_moe, where_loop_moe

from espnet_omnirouter.layers.moe.dispatch import dispatch_and_combine
from espnet_omnirouter.layers.moe.experts import StackedExperts
from espnet_omnirouter.layers.moe.grouped_linear import grouped_mm_linear, loop_grouped_linear

D, H, T = 8, 16, 40


def routed_inputs(num_experts: int, top_k: int, empty_expert: bool):
    """Tokens, distinct top-k experts per token (never the last one if it must stay
    empty) and their gates."""
    torch.manual_seed(1)
    tokens = torch.randn(T, D)
    choosable = num_experts - 1 if empty_expert else num_experts
    expert_index = torch.rand(T, choosable).argsort(dim=-1)[:, :top_k]
    return tokens, expert_index, torch.rand(T, top_k)


def run_path(path: str, tokens, expert_index, gate, experts: StackedExperts):
    """Output and gradients w.r.t. tokens, gate and the stacked expert weights."""
    tokens = tokens.clone().requires_grad_()
    gate = gate.clone().requires_grad_()
    weights = [p.detach().clone().requires_grad_() for p in (experts.w_1, experts.b_1)]
    weights += [p.detach().clone().requires_grad_() for p in (experts.w_2, experts.b_2)]
    if path in ("loop", "grouped_mm"):
        experts = StackedExperts(*experts.w_1.shape[:1], D, H, 0.0, torch.nn.SiLU(), path)
        experts.w_1, experts.b_1, experts.w_2, experts.b_2 = map(torch.nn.Parameter, weights)
        weights = [experts.w_1, experts.b_1, experts.w_2, experts.b_2]
        output = dispatch_and_combine(tokens, expert_index, gate, experts)
    elif path == "where_loop":
        per_expert = list(zip(*(w.unbind(0) for w in weights)))
        output = where_loop_moe(tokens, expert_index, gate, per_expert, torch.nn.SiLU())
    else:
        output = all_experts_moe(tokens, expert_index, gate, *weights, torch.nn.SiLU())
    output.backward(torch.linspace(-1, 1, output.numel(), dtype=output.dtype).view_as(output))
    return [output.detach(), tokens.grad, gate.grad] + [w.grad for w in weights]


@pytest.mark.parametrize(
    "num_experts,top_k,empty_expert",
    [(1, 1, False), (4, 1, False), (4, 1, True), (4, 2, False), (8, 2, True)],
)
def test_all_dispatch_paths_agree(num_experts, top_k, empty_expert):
    tokens, expert_index, gate = routed_inputs(num_experts, top_k, empty_expert)
    experts = StackedExperts(num_experts, D, H, 0.0, torch.nn.SiLU())
    expected = run_path("all_experts", tokens, expert_index, gate, experts)
    for path in ("loop", "grouped_mm", "where_loop"):
        for got, want in zip(run_path(path, tokens, expert_index, gate, experts), expected):
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5, msg=path)


@pytest.mark.parametrize("backend", ["loop", "grouped_mm"])
def test_dropped_assignments_are_not_computed_and_get_zero(backend):
    torch.manual_seed(0)
    experts = StackedExperts(3, D, H, 0.0, torch.nn.SiLU(), backend)
    tokens = torch.randn(T, D, dtype=torch.float32)
    expert_index = torch.randint(0, 3, (T, 2))
    gate = torch.rand(T, 2, dtype=torch.float32)
    valid = torch.rand(T) > 0.3
    out = dispatch_and_combine(tokens, expert_index, gate, experts, valid=valid)
    assert torch.equal(out[~valid], torch.zeros_like(out[~valid]))
    full = dispatch_and_combine(tokens, expert_index, gate, experts)
    torch.testing.assert_close(out[valid], full[valid])


def test_loop_grouped_linear_gradcheck_with_empty_group_and_tail():
    torch.manual_seed(0)
    inputs = torch.randn(9, 3, dtype=torch.float64, requires_grad=True)
    weight = torch.randn(3, 3, 2, dtype=torch.float64, requires_grad=True)
    bias = torch.randn(3, 2, dtype=torch.float64, requires_grad=True)
    sizes = [4, 0, 3]  # two tail rows belong to no group
    output = loop_grouped_linear(inputs, weight, bias, sizes)
    assert torch.equal(output[7:], torch.zeros(2, 2, dtype=torch.float64))
    torch.testing.assert_close(output[4:7], inputs[4:7] @ weight[2] + bias[2])
    assert torch.autograd.gradcheck(
        lambda x, w, b: loop_grouped_linear(x, w, b, sizes), (inputs, weight, bias)
    )


def test_grouped_mm_linear_equals_loop_with_empty_group_and_tail():
    torch.manual_seed(0)
    leaves = [torch.randn(9, 8), torch.randn(3, 8, 16), torch.randn(3, 16)]
    sizes = [4, 0, 3]
    results = []
    for linear, group_sizes in (
        (loop_grouped_linear, sizes),
        (grouped_mm_linear, torch.tensor(sizes)),
    ):
        inputs, weight, bias = (leaf.clone().requires_grad_() for leaf in leaves)
        output = linear(inputs, weight, bias, group_sizes)
        output.backward(torch.randn(9, 16, generator=torch.Generator().manual_seed(1)))
        results.append([output, inputs.grad, weight.grad, bias.grad])
    for got, want in zip(*results):
        torch.testing.assert_close(got, want)


def test_grouped_mm_backend_rejects_sizes_its_kernel_cannot_take():
    with pytest.raises(ValueError, match="multiples of 8"):
        StackedExperts(2, 6, 16, 0.0, torch.nn.SiLU(), "grouped_mm")


def test_loop_backend_follows_cpu_autocast_dtype():
    experts = StackedExperts(2, D, H, 0.0, torch.nn.SiLU())
    tokens = torch.randn(6, D)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = experts(tokens, torch.tensor([4, 2]))
    assert out.dtype == torch.bfloat16
    torch.testing.assert_close(
        out.float(), experts(tokens, torch.tensor([4, 2])), atol=0.1, rtol=0.05
    )


@pytest.mark.parametrize("top_k", [1, 2])
@pytest.mark.parametrize("backend", ["loop", "grouped_mm"])
def test_inference_gives_the_training_forward_exactly(backend, top_k):
    """Without autograd the layer skips its autograd function: same numbers."""
    tokens, expert_index, gate = routed_inputs(4, top_k, empty_expert=True)
    experts = StackedExperts(4, D, H, 0.0, torch.nn.SiLU(), backend)
    valid = torch.arange(T) < T - 5
    with torch.no_grad():
        inference = dispatch_and_combine(
            tokens, expert_index, gate, experts, valid, capacity_factor=1.0
        )
    training = dispatch_and_combine(tokens, expert_index, gate, experts, valid, capacity_factor=1.0)
    assert training.requires_grad
    assert torch.equal(inference, training.detach())
