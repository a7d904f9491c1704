import pytest
import torch

from espnet_omnirouter.layers.moe.router import Router


def test_logits_are_float32_under_bfloat16_autocast():
    router = Router(8, 4)
    tokens = torch.randn(5, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        decision = router(tokens, 2, "full_softmax")
    assert decision.logits.dtype == torch.float32
    assert decision.gate.dtype == torch.float32
    torch.testing.assert_close(decision.logits, tokens @ router.linear.weight.T)


def test_full_softmax_gate_is_the_probability_of_the_chosen_expert():
    router = Router(8, 4)
    decision = router(torch.randn(5, 8), 1, "full_softmax")
    expected = decision.probs.max(-1, keepdim=True).values
    torch.testing.assert_close(decision.gate, expected)


def test_jitter_only_in_training():
    torch.manual_seed(0)
    router = Router(8, 4, jitter_noise=0.5)
    tokens = torch.randn(50, 8)
    router.eval()
    first, second = router(tokens, 1, "full_softmax"), router(tokens, 1, "full_softmax")
    assert torch.equal(first.logits, second.logits)
    router.train()
    assert not torch.equal(router(tokens, 1, "full_softmax").logits, first.logits)


def test_bad_arguments_name_the_problem():
    with pytest.raises(ValueError, match="num_experts"):
        Router(8, 0)
    with pytest.raises(ValueError, match="gate_normalization"):
        Router(8, 4)(torch.randn(2, 8), 1, "sparsemax")
