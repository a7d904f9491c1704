"""The MoE layer as a function of its inputs: output and routing record per forward."""

import threading

import pytest
import torch

from espnet_omnirouter.layers.moe.losses import load_balancing_loss, router_z_loss
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.router import Router
from espnet_omnirouter.layers.moe.routing import collect_routing, report_routing

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
    torch.testing.assert_close(layer(xs)[0], reference_moe(layer, xs), rtol=1e-5, atol=1e-6)


def test_routing_matches_reference_choice():
    layer = make_layer(top_k=2)
    xs = torch.randn(2, 5, D)
    _, record = layer(xs)
    expected = torch.topk(xs.reshape(-1, D) @ layer.router.linear.weight.T, 2).indices
    assert torch.equal(record.expert_index, expected)
    assert record.layer is layer


def test_the_layer_keeps_nothing_between_forwards():
    """Two batches in either order give the same outputs and records: nothing of one
    forward (its padding, its routing) reaches the next."""
    layer = make_layer(top_k=2)
    first, second = torch.randn(2, 5, D), torch.randn(3, 4, D)
    valid = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=torch.bool)
    state = {k: v.clone() for k, v in vars(layer).items() if isinstance(v, torch.Tensor)}
    a1, record_a1 = layer(first, valid)
    b1, record_b1 = layer(second)
    b2, record_b2 = layer(second)
    a2, record_a2 = layer(first, valid)
    assert torch.equal(a1, a2) and torch.equal(b1, b2)
    assert torch.equal(record_a1.expert_index, record_a2.expert_index)
    assert torch.equal(record_b1.expert_index, record_b2.expert_index)
    assert record_b1.valid is None and record_a2.valid.sum() == 8
    assert {k for k, v in vars(layer).items() if isinstance(v, torch.Tensor)} == set(state)


def test_records_reach_only_the_collection_running_when_they_are_reported():
    layer = make_layer()
    xs = torch.randn(1, 3, D)
    report_routing(layer(xs)[1])  # nobody collects: dropped
    with collect_routing() as outer:
        report_routing(layer(xs)[1])
        with collect_routing() as inner:
            report_routing(layer(xs)[1])
    report_routing(layer(xs)[1])
    assert (len(outer), len(inner)) == (2, 1)
    assert inner[0] is outer[1]


def test_a_thread_collects_only_its_own_records():
    layer = make_layer()
    xs = torch.randn(1, 3, D)
    with collect_routing() as main_records:
        other = threading.Thread(target=lambda: report_routing(layer(xs)[1]))
        other.start()
        other.join()
        report_routing(layer(xs)[1])
    assert len(main_records) == 1


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
    full, _ = layer(xs)
    masked, _ = layer(xs, valid)
    assert torch.equal(masked[~valid], torch.zeros(2, D))
    torch.testing.assert_close(masked[valid], full[valid])


def test_losses_ignore_padding_frames():
    layer = make_layer()
    xs = torch.randn(2, 5, D)
    valid = torch.tensor([[1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.bool)
    losses = layer(xs, valid)[1].auxiliary_losses()
    logits = xs[valid] @ layer.router.linear.weight.T
    expected_lb = load_balancing_loss(logits.softmax(-1), logits.argmax(-1, keepdim=True))
    torch.testing.assert_close(losses["load_balancing_loss"], expected_lb)
    torch.testing.assert_close(losses["z_loss"], router_z_loss(logits))
    # Changing what lies in the padding changes nothing.
    xs[~valid] = 100.0
    torch.testing.assert_close(
        layer(xs, valid)[1].auxiliary_losses()["z_loss"], router_z_loss(logits)
    )


def test_capacity_drops_late_tokens_of_a_full_expert():
    layer = make_layer(capacity_factor=1.0)
    with torch.no_grad():
        layer.router.linear.weight.zero_()
        layer.router.linear.weight[2, 0] = 10.0  # every token with x[0] > 0 picks expert 2
    xs = torch.randn(1, 8, D)
    xs[..., 0] = 1.0
    out, _ = layer(xs)
    capacity = 2  # ceil(1.0 * 8 tokens * top-1 / 4 experts)
    no_capacity = make_layer()
    no_capacity.load_state_dict(layer.state_dict())
    torch.testing.assert_close(out[0, :capacity], no_capacity(xs)[0][0, :capacity])
    assert torch.equal(out[0, capacity:], torch.zeros(8 - capacity, D))


def test_capacity_counts_only_valid_frames():
    layer = make_layer(capacity_factor=1.0)
    with torch.no_grad():
        layer.router.linear.weight.zero_()
        layer.router.linear.weight[1, 0] = 10.0
    xs = torch.ones(1, 8, D)
    out, _ = layer(xs, torch.tensor([[True] * 4 + [False] * 4]))
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
    layer(xs)[0].pow(2).sum().backward()
    assert layer.router.linear.weight.grad.abs().sum() > 0
    grad_per_expert = layer.experts.w_1.grad.abs().sum(dim=(1, 2))
    assert grad_per_expert[3] > 0
    assert torch.equal(grad_per_expert[:3], torch.zeros(3))


def test_a_layer_that_shares_its_router_owns_none_and_is_given_it():
    router = Router(D, E)
    layer = MoEFeedForward(D, H, 0.0, torch.nn.SiLU(), E, shares_router=True).eval()
    assert layer.router is None and layer.shares_router
    assert not any(key.startswith("router") for key in layer.state_dict())
    xs = torch.randn(2, 3, D)
    _, record = layer(xs, router=router)
    expected = (xs.reshape(-1, D) @ router.linear.weight.T).argmax(-1, keepdim=True)
    assert torch.equal(record.expert_index, expected)
    with pytest.raises(ValueError, match="shares its router; pass it"):
        layer(xs)


def test_shared_router_size_mismatch_and_a_second_router_are_rejected():
    layer = MoEFeedForward(8, H, 0.0, torch.nn.SiLU(), E, shares_router=True)
    with pytest.raises(ValueError, match="shared router maps 6 -> 4"):
        layer(torch.randn(1, 2, 8), router=Router(D, E))
    with pytest.raises(ValueError, match="has its own router"):
        make_layer()(torch.randn(1, 2, D), router=Router(D, E))
