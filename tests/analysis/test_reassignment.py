"""The random-reassignment ablation hook."""

import pytest
import torch
from conftest import TINY_CONFORMER

from espnet_omnirouter.analysis.reassignment import random_reassignment, reassign
from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.layers.moe.router import Router
from espnet_omnirouter.layers.moe.routing import collect_routing


def decisions(router: Router, tokens: torch.Tensor, top_k: int):
    return router(tokens, top_k, "topk_softmax" if top_k > 1 else "full_softmax")


@pytest.mark.parametrize("top_k, num_experts", [(1, 4), (2, 8), (1, 2)])
def test_full_reassignment_changes_every_decision_and_keeps_gates(top_k, num_experts):
    torch.manual_seed(0)
    router, tokens = Router(16, num_experts), torch.randn(500, 16)
    original = decisions(router, tokens, top_k)
    moved = reassign(original, 1.0, torch.Generator().manual_seed(0))
    assert (moved.expert_index != original.expert_index).all()
    chosen_before = original.expert_index.unsqueeze(-1) == moved.expert_index.unsqueeze(-2)
    assert not chosen_before.any()  # never to an expert the token already had
    assert (moved.expert_index.sort(-1).values.diff(dim=-1) != 0).all()  # still distinct
    assert torch.equal(moved.gate, original.gate)


def test_partial_reassignment_moves_about_that_fraction():
    torch.manual_seed(0)
    router, tokens = Router(16, 4), torch.randn(4000, 16)
    original = decisions(router, tokens, 1)
    moved = reassign(original, 0.3, torch.Generator().manual_seed(1))
    share = (moved.expert_index != original.expert_index).float().mean().item()
    assert share == pytest.approx(0.3, abs=0.03)


def test_reassignment_needs_room():
    decision = decisions(Router(8, 3), torch.randn(5, 8), 2)
    with pytest.raises(ValueError, match="num_experts >= 2 \\* top_k"):
        reassign(decision, 0.5, torch.Generator())


@pytest.mark.parametrize("moe_type", ["switch", "omni"])
def test_hook_on_an_encoder_zero_changes_nothing_one_changes_all(moe_type):
    torch.manual_seed(0)
    encoder = MoEConformerEncoder(
        20, moe_conf={"type": moe_type, "num_experts": 4}, **TINY_CONFORMER
    ).eval()
    speech, lengths = torch.randn(2, 40, 20), torch.tensor([40, 31])

    def run():
        with torch.no_grad(), collect_routing() as records:
            out = encoder(speech, lengths)[0]
        return out, [record.expert_index for record in records]

    reference, reference_choices = run()
    with random_reassignment(encoder, 0.0, torch.Generator()):
        out, choices = run()
    assert torch.equal(out, reference)
    assert all(torch.equal(a, b) for a, b in zip(choices, reference_choices))
    with random_reassignment(encoder, 1.0, torch.Generator().manual_seed(0)):
        out, choices = run()
    assert not torch.allclose(out, reference)
    # Layer 0's input is unchanged, so each of its decisions can be compared: all moved.
    assert (choices[0] != reference_choices[0]).all()
    assert torch.equal(run()[0], reference)  # the hooks are gone after the block
