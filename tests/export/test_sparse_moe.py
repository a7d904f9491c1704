"""The traceable sparse MoE path equals the eager dispatch, and stays sparse in ONNX."""

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from espnet_omnirouter.export.sparse_moe import sparse_moe_for_export
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward


def moe_layer(top_k: int, capacity_factor: float | None, gate: str) -> MoEFeedForward:
    torch.manual_seed(0)
    layer = MoEFeedForward(
        8, 12, 0.0, torch.nn.SiLU(), num_experts=4, top_k=top_k, gate_normalization=gate,
        capacity_factor=capacity_factor,
    )  # fmt: skip
    return layer.eval()


@pytest.mark.parametrize(
    "top_k, capacity_factor, gate",
    [(1, None, "full_softmax"), (2, None, "topk_softmax"), (2, 0.5, "full_softmax")],
)
def test_sparse_path_equals_eager_dispatch_with_padding(top_k, capacity_factor, gate):
    layer = moe_layer(top_k, capacity_factor, gate)
    xs = torch.randn(3, 7, 8)
    valid = torch.arange(7)[None, :] < torch.tensor([7, 4, 1])[:, None]
    with torch.no_grad():
        layer.valid_frames = valid
        eager = layer(xs)
        with sparse_moe_for_export(layer) as rewritten:
            layer.valid_frames = valid
            sparse = layer(xs)
    assert rewritten == 1
    assert torch.allclose(sparse, eager, atol=1e-6)
    assert (sparse[~valid] == 0).all()
    if capacity_factor is not None:  # some assignments were really dropped
        uncapped = moe_layer(top_k, None, gate)
        uncapped.valid_frames = valid
        with torch.no_grad():
            assert not torch.allclose(eager, uncapped(xs), atol=1e-3)


def test_rewrite_keeps_state_dict_and_is_undone():
    layer = moe_layer(2, None, "topk_softmax")
    keys = list(layer.state_dict())
    with sparse_moe_for_export(layer):
        assert list(layer.state_dict()) == keys
        assert "forward" in vars(layer)
    assert "forward" not in vars(layer) and list(layer.state_dict()) == keys


@pytest.mark.filterwarnings("ignore:.*duplicated values in 'index'")  # unique per expert
def test_exported_layer_selects_frames_per_expert(tmp_path):
    """One NonZero per expert: each expert computes only the frames routed to it, whatever
    their number (also none, or all)."""
    layer = moe_layer(2, None, "topk_softmax")
    path = tmp_path / "moe.onnx"
    with sparse_moe_for_export(layer), torch.no_grad():
        torch.onnx.export(
            layer, (torch.randn(1, 5, 8),), str(path), input_names=["xs"], output_names=["ys"],
            dynamic_axes={"xs": {1: "T"}, "ys": {1: "T"}}, opset_version=20, dynamo=False,
        )  # fmt: skip
    ops = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert ops.count("NonZero") == 4
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for frames in (1, 2, 33):
        xs = torch.randn(1, frames, 8)
        with torch.no_grad():
            expected = layer(xs).numpy()
        np.testing.assert_allclose(session.run(None, {"xs": xs.numpy()})[0], expected, atol=1e-5)
