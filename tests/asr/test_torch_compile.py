"""``torch.compile(fullgraph=True, dynamic=True)`` traces the MoE layer, the encoders and a
training step in one graph each: no graph break, so nothing in dispatch, the auxiliary
losses or the routing statistics reads a tensor on the host (a GPU never waits for them).

The ``grouped_mm`` expert backend is the traced one (``torch._grouped_mm``; on a CPU in
bfloat16 only); ``loop`` splits the tokens by expert in Python (``Tensor.split`` with host
sizes) and is the known exception. Layer drop and stochastic depth (off by default) skip
blocks in Python and are not traced either."""

import pytest
import torch
from conftest import N_MELS, TINY_CONFORMER

from espnet_omnirouter.asr.encoder.moe_conformer_encoder import MoEConformerEncoder
from espnet_omnirouter.asr.encoder.u2pp_conformer_encoder import U2ppConformerEncoder
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.layers.moe.routing import collect_routing, summarize_routing

# CPU-sized: aot_eager traces exactly what inductor would compile, without a C compiler.
COMPILE = dict(fullgraph=True, dynamic=True, backend="aot_eager")


@pytest.fixture(autouse=True)
def fresh_compile_caches():
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    yield
    torch._dynamo.reset()


def use_grouped_mm(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` in bfloat16 with every MoE layer on the ``grouped_mm`` backend."""
    for layer in model.modules():
        if isinstance(layer, MoEFeedForward):
            layer.experts.backend = "grouped_mm"
    return model.to(torch.bfloat16)


def test_moe_layer_forward_losses_statistics_and_backward():
    torch.manual_seed(0)
    layer = use_grouped_mm(MoEFeedForward(16, 24, 0.0, torch.nn.SiLU(), 4, 2, "full_softmax"))

    def step(x: torch.Tensor, valid: torch.Tensor):
        y, record = layer(x, valid)
        aux_loss, stats = summarize_routing([record])
        return y, aux_loss, stats

    compiled = torch.compile(step, **COMPILE)
    for frames in (9, 13):  # a second length reuses the dynamic graph
        x = torch.randn(2, frames, 16, dtype=torch.bfloat16, requires_grad=True)
        valid = torch.arange(frames) < torch.tensor([[frames], [frames - 3]])
        y, aux, stats = compiled(x, valid)
        (y.float().square().sum() + aux).backward()
        expected, expected_aux, _ = step(x, valid)
        torch.testing.assert_close(y, expected)
        torch.testing.assert_close(aux, expected_aux)
        assert {"moe_aux_loss", "moe_z_loss"} <= set(stats) and x.grad is not None
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1


def encoder(kind: str) -> torch.nn.Module:
    """A one-block encoder of ``kind`` in training mode (U2++: dynamic chunks); its
    macaron and FFN MoE layers share omni's router."""
    torch.manual_seed(0)
    conf = {**TINY_CONFORMER, "num_blocks": 1}
    if kind == "omni":
        return MoEConformerEncoder(N_MELS, moe_conf={"type": "omni", "num_experts": 4}, **conf)
    moe_conf = {"type": "u2pp", "num_experts": 4} if kind == "u2pp_moe" else None
    conf.update(rel_pos_type="legacy", use_dynamic_chunk=True)
    return U2ppConformerEncoder(N_MELS, moe_conf=moe_conf, **conf)


@pytest.mark.parametrize("kind", ["omni", "u2pp_moe"])
def test_encoder_training_step(kind):
    """Encoder forward, a task loss, the MoE losses and statistics, backward.

    The task loss is frame cross-entropy of a CTC-sized head: torch's CTC loss is not
    traceable (``aten._ctc_loss`` has no kernel for symbolic shapes), which is torch's."""
    model = use_grouped_mm(encoder(kind).train())
    head = torch.nn.Linear(16, 5)

    def training_step(feats, feats_lengths, frame_targets):
        with collect_routing() as records:
            encoded, lengths, _ = model(feats, feats_lengths)
        logits = head(encoded.float())
        padding = torch.arange(logits.size(1)) >= lengths[:, None]
        targets = frame_targets[:, : logits.size(1)].masked_fill(padding, -100)
        loss = torch.nn.functional.cross_entropy(logits.transpose(1, 2), targets)
        stats = {}
        if records:
            aux_loss, stats = summarize_routing(records)
            loss = loss + aux_loss
        return loss, stats

    def batch(frames: int):
        feats = torch.randn(2, frames, N_MELS, dtype=torch.bfloat16)
        return feats, torch.tensor([frames, frames - 8]), torch.randint(0, 5, (2, frames))

    training_step(*batch(33))  # ESPnet's positional encoding casts its table on first use
    compiled = torch.compile(training_step, **COMPILE)
    for frames in (41, 57):  # a second length reuses the dynamic graph
        loss, stats = compiled(*batch(frames))
        loss.backward()
        assert torch.isfinite(loss)
        assert ("moe_aux_loss" in stats) == (kind != "u2pp_dense")
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    routers = [p for name, p in model.named_parameters() if "router" in name]
    assert all(p.grad is not None for p in routers)
