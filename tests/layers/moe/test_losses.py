import math

import torch

from espnet_omnirouter.layers.moe.losses import (
    expert_load,
    load_balancing_loss,
    router_entropy,
    router_z_loss,
)


def test_load_balancing_loss_hand_computed():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.6, 0.3, 0.1], [0.1, 0.1, 0.8], [0.5, 0.4, 0.1]])
    choice = probs.argmax(-1, keepdim=True)  # experts 0, 0, 2, 0
    # f = (3/4, 0, 1/4); P = (1.9/4, 1.0/4, 1.1/4); E * sum(f * P)
    expected = 3 * (0.75 * 1.9 / 4 + 0.25 * 1.1 / 4)
    torch.testing.assert_close(load_balancing_loss(probs, choice), torch.tensor(expected))


def test_load_balancing_loss_is_one_when_uniform_and_e_when_collapsed():
    num_experts = 4
    uniform = torch.full((8, num_experts), 1 / num_experts)
    balanced = torch.arange(8).remainder(num_experts)[:, None]
    torch.testing.assert_close(load_balancing_loss(uniform, balanced), torch.tensor(1.0))
    collapsed_probs = torch.zeros(8, num_experts)
    collapsed_probs[:, 0] = 1.0
    collapsed = torch.zeros(8, 1, dtype=torch.long)
    torch.testing.assert_close(
        load_balancing_loss(collapsed_probs, collapsed), torch.tensor(float(num_experts))
    )


def test_imbalanced_routing_costs_more_than_balanced():
    torch.manual_seed(0)
    logits = torch.randn(64, 4)
    balanced = load_balancing_loss(logits.softmax(-1), logits.argmax(-1, keepdim=True))
    skewed_logits = logits + torch.tensor([3.0, 0.0, 0.0, 0.0])
    skewed = load_balancing_loss(skewed_logits.softmax(-1), skewed_logits.argmax(-1, keepdim=True))
    assert skewed > balanced


def test_load_balancing_gradient_pushes_collapsed_router_back():
    logits = torch.zeros(16, 4)
    logits[:, 0] = 2.0
    logits.requires_grad_(True)
    probs = logits.softmax(-1)
    load_balancing_loss(probs, logits.argmax(-1, keepdim=True)).backward()
    # Gradient descent lowers the overloaded expert's logit and raises the others'.
    assert (logits.grad[:, 0] > 0).all() and (logits.grad[:, 1:] < 0).all()


def test_z_loss_hand_computed_on_logits():
    logits = torch.tensor([[0.0, 0.0], [math.log(3.0), 0.0]])
    expected = (math.log(2.0) ** 2 + math.log(4.0) ** 2) / 2
    torch.testing.assert_close(router_z_loss(logits), torch.tensor(expected))


def test_expert_load_counts_every_top_k_assignment():
    choice = torch.tensor([[0, 1], [0, 2], [0, 1]])
    torch.testing.assert_close(expert_load(choice, 4), torch.tensor([0.5, 2 / 6, 1 / 6, 0.0]))


def test_entropy_of_uniform_and_one_hot():
    torch.testing.assert_close(router_entropy(torch.full((3, 4), 0.25)), torch.tensor(math.log(4)))
    torch.testing.assert_close(router_entropy(torch.eye(4)), torch.tensor(0.0), atol=1e-6, rtol=0)


def test_no_tokens_give_zero_losses():
    assert load_balancing_loss(torch.zeros(0, 4), torch.zeros(0, 1, dtype=torch.long)) == 0
    assert router_z_loss(torch.zeros(0, 4)) == 0


def test_masked_losses_equal_the_losses_of_the_valid_tokens_alone():
    torch.manual_seed(0)
    logits = torch.randn(12, 4, requires_grad=True)
    probs = logits.softmax(-1)
    choice = logits.topk(2, dim=-1).indices
    valid = torch.rand(12) > 0.4
    losses = {
        "load balancing": lambda lg, p, c, v: load_balancing_loss(p, c, v),
        "z-loss": lambda lg, p, c, v: router_z_loss(lg, v),
        "entropy": lambda lg, p, c, v: router_entropy(p, v),
        "load": lambda lg, p, c, v: expert_load(c, 4, v),
    }
    for name, loss in losses.items():
        masked = loss(logits, probs, choice, valid)
        alone = loss(logits[valid], probs[valid], choice[valid], None)
        torch.testing.assert_close(masked, alone, msg=name)
    masked_grad = torch.autograd.grad(load_balancing_loss(probs, choice, valid), logits)[0]
    assert torch.equal(masked_grad[~valid], torch.zeros_like(masked_grad[~valid]))


def test_no_valid_tokens_give_zero_losses():
    logits, none_valid = torch.randn(3, 4), torch.zeros(3, dtype=torch.bool)
    choice = logits.argmax(-1, keepdim=True)
    assert load_balancing_loss(logits.softmax(-1), choice, none_valid) == 0
    assert router_z_loss(logits, none_valid) == 0
    assert torch.equal(expert_load(choice, 4, none_valid), torch.zeros(4))
