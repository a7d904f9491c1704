import pytest
import torch

from espnet_omnirouter.layers.moe.losses import load_balancing_loss, router_z_loss
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.router import Router

D, H, E = 6, 10, 4


def make_layer(top_k=1, gate="full_softmax", **kwargs) -> MoEFeedForward:
    torch.manual_seed(0)
    return MoEFeedForward(D, H, 0.0, torch.nn.SiLU(), E, top_k, gate, **kwargs).eval()


def reference_moe(layer: MoEFeedForward, xs: torch.Tensor) -> torch.Tensor:
    """Token-by-token MoE written from the papers' equations."""
    experts = layer.experts
    weight = layer.router.linear.weight
    out = torch.zeros_like(xs)
    for b in range(xs.shape[0]):
        for t in range(xs.shape[1]):
            x = xs[b, t]
            logits = weight @ x
            probs = logits.softmax(-1)
            top = torch.topk(logits, layer.top_k).indices
            if layer.gate_normalization == "full_softmax":
                gates = probs[top]
            else:
                gates = logits[top].softmax(-1)
            for e, g in zip(top.tolist(), gates):
                hidden = torch.nn.functional.silu(x @ experts.w_1[e] + experts.b_1[e])
                out[b, t] += g * (hidden @ experts.w_2[e] + experts.b_2[e])
    return out


@pytest.mark.parametrize("top_k", [1, 2])
@pytest.mark.parametrize("gate", ["full_softmax", "topk_softmax"])
def test_output_equals_token_loop_reference(top_k, gate):
    layer = make_layer(top_k, gate)
    xs = torch.randn(3, 7, D)
    torch.testing.assert_close(layer(xs), reference_moe(layer, xs), rtol=1e-5, atol=1e-6)


def test_routing_matches_reference_choice():
    layer = make_layer(top_k=2)
    xs = torch.randn(2, 5, D)
    layer(xs)
    expected = torch.topk(xs.reshape(-1, D) @ layer.router.linear.weight.T, 2).indices
    assert torch.equal(layer.last_routing.expert_index, expected)


def test_topk_softmax_gates_sum_to_one_and_full_softmax_gates_do_not():
    router = Router(D, E)
    tokens = torch.randn(9, D)
    topk = router(tokens, 2, "topk_softmax").gate
    full = router(tokens, 2, "full_softmax").gate
    torch.testing.assert_close(topk.sum(-1), torch.ones(9))
    assert (full.sum(-1) < 1).all()


def test_padding_frames_get_zero_output_and_do_not_change_valid_frames():
    layer = make_layer(top_k=2)
    xs = torch.randn(2, 5, D)
    valid = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    full = layer(xs)
    layer.valid_frames = valid
    masked = layer(xs)
    assert torch.equal(masked[~valid], torch.zeros(2, D))
    torch.testing.assert_close(masked[valid], full[valid])


def test_losses_ignore_padding_frames():
    layer = make_layer()
    xs = torch.randn(2, 5, D)
    valid = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.bool)
    layer.valid_frames = valid
    layer(xs)
    losses = layer.auxiliary_losses()
    logits = xs[valid] @ layer.router.linear.weight.T
    expected_lb = load_balancing_loss(logits.softmax(-1), logits.argmax(-1, keepdim=True))
    torch.testing.assert_close(losses["load_balancing_loss"], expected_lb)
    torch.testing.assert_close(losses["z_loss"], router_z_loss(logits))
    # Changing what lies in the padding changes nothing.
    xs[~valid] = 100.0
    layer(xs)
    torch.testing.assert_close(layer.auxiliary_losses()["z_loss"], router_z_loss(logits))


def test_capacity_drops_late_tokens_of_a_full_expert():
    layer = make_layer(capacity_factor=1.0)
    with torch.no_grad():
        layer.router.linear.weight.zero_()
        layer.router.linear.weight[2, 0] = 10.0  # every token with x[0] > 0 picks expert 2
    xs = torch.randn(1, 8, D)
    xs[..., 0] = 1.0
    out = layer(xs)
    capacity = 2  # ceil(1.0 * 8 tokens * top-1 / 4 experts)
    no_capacity = make_layer()
    no_capacity.load_state_dict(layer.state_dict())
    torch.testing.assert_close(out[0, :capacity], no_capacity(xs)[0, :capacity])
    assert torch.equal(out[0, capacity:], torch.zeros(8 - capacity, D))


def test_capacity_counts_only_valid_frames():
    layer = make_layer(capacity_factor=1.0)
    with torch.no_grad():
        layer.router.linear.weight.zero_()
        layer.router.linear.weight[1, 0] = 10.0
    xs = torch.ones(1, 8, D)
    layer.valid_frames = torch.tensor([[True] * 4 + [False] * 4])
    out = layer(xs)
    assert out[0, 0].abs().sum() > 0  # capacity ceil(4 / 4) = 1: first token kept
    assert torch.equal(out[0, 1:], torch.zeros(7, D))


def test_gradients_reach_router_and_only_used_experts():
    layer = make_layer()
    layer.train()
    with torch.no_grad():
        layer.router.linear.weight.zero_()
        layer.router.linear.weight[3, 0] = 5.0
    xs = torch.randn(2, 6, D)
    xs[..., 0] = 1.0
    layer(xs).pow(2).sum().backward()
    assert layer.router.linear.weight.grad.abs().sum() > 0
    grad_per_expert = layer.experts.w_1.grad.abs().sum(dim=(1, 2))
    assert grad_per_expert[3] > 0
    assert torch.equal(grad_per_expert[:3], torch.zeros(3))


def test_shared_router_is_not_a_submodule():
    router = Router(D, E)
    layer = MoEFeedForward(D, H, 0.0, torch.nn.SiLU(), E, router=router)
    assert layer.router is router and layer.shares_router
    assert not any(key.startswith("router") for key in layer.state_dict())


def test_shared_router_size_mismatch_is_rejected():
    with pytest.raises(ValueError, match="shared router maps 6 -> 4"):
        MoEFeedForward(8, H, 0.0, torch.nn.SiLU(), E, router=Router(D, E))


def test_statistics_before_forward_raise():
    layer = make_layer()
    with pytest.raises(RuntimeError, match="no forward"):
        layer.routing_statistics()
