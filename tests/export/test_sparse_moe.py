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


def test_rewrite_adds_per_expert_views_and_is_undone():
    layer = moe_layer(2, None, "topk_softmax")
    keys = list(layer.state_dict())
    with sparse_moe_for_export(layer):
        assert "forward" in vars(layer)
        experts = layer.experts
        assert experts.w_1_3.data_ptr() == experts.w_1[3].data_ptr()  # a view, not a copy
        assert torch.equal(experts.b_2_0, experts.b_2[0])
        assert len(layer.state_dict()) == len(keys) + 4 * 4
    assert "forward" not in vars(layer) and list(layer.state_dict()) == keys


@pytest.mark.parametrize("top_k", [1, 2])
def test_exported_layer_sorts_once_and_computes_each_frame_k_times(tmp_path, top_k):
    """One sort per layer, not one frame selection per expert: each expert's MatMuls see
    only its own frames, whatever their number (also none, or all)."""
    layer = moe_layer(top_k, None, "topk_softmax")
    path = tmp_path / "moe.onnx"
    with sparse_moe_for_export(layer), torch.no_grad():
        torch.onnx.export(
            layer, (torch.randn(1, 5, 8),), str(path), input_names=["xs"], output_names=["ys"],
            dynamic_axes={"xs": {1: "T"}, "ys": {1: "T"}}, opset_version=20, dynamo=False,
        )  # fmt: skip
    model = onnx.load(str(path))
    ops = [node.op_type for node in model.graph.node]
    assert "NonZero" not in ops and "ScatterElements" not in ops
    assert ops.count("TopK") == 3  # router, sort, inverse permutation
    splits = [node for node in model.graph.node if node.op_type == "Split"]
    assert [len(split.output) for split in splits] == [4, 4]  # frames, hidden activations
    split = splits[0]
    # The groups as extra outputs: their sizes are the frames routed to each expert.
    model.graph.output.extend(onnx.ValueInfoProto(name=name) for name in split.output)
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    for frames in (1, 2, 33):
        xs = torch.randn(1, frames, 8)
        with torch.no_grad():
            expected = layer(xs).numpy()
            routed = layer.router(xs[0], top_k, "topk_softmax").expert_index
        ys, *groups = session.run(None, {"xs": xs.numpy()})
        np.testing.assert_allclose(ys, expected, atol=1e-5)
        assert [len(group) for group in groups] == torch.bincount(
            routed.reshape(-1), minlength=4
        ).tolist()


class MaskedLayer(torch.nn.Module):
    """A MoE layer given its padding mask, as the encoders and decoders set it."""

    def __init__(self, layer: MoEFeedForward):
        super().__init__()
        self.layer = layer

    def forward(self, xs: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        self.layer.valid_frames = valid
        return self.layer(xs)


@pytest.mark.parametrize(
    "top_k, capacity_factor, gate",
    [(1, None, "full_softmax"), (2, None, "topk_softmax"), (2, 0.5, "full_softmax")],
)
def test_exported_layer_equals_eager_with_padding_and_capacity(
    tmp_path, top_k, capacity_factor, gate
):
    """Padding and capacity are graph values: ONNX Runtime drops what eager drops on
    batches the graph was not traced with."""
    module = MaskedLayer(moe_layer(top_k, capacity_factor, gate))
    path = tmp_path / "moe.onnx"
    lengths = torch.tensor([6, 2])
    valid = torch.arange(6)[None, :] < lengths[:, None]
    with sparse_moe_for_export(module.layer), torch.no_grad():
        torch.onnx.export(
            module, (torch.randn(2, 6, 8), valid), str(path), input_names=["xs", "valid"],
            output_names=["ys"], dynamic_axes={"xs": {0: "B", 1: "T"}, "valid": {0: "B", 1: "T"}},
            opset_version=20, dynamo=False,
        )  # fmt: skip
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for lengths in ([9, 4, 1], [3]):
        lengths = torch.tensor(lengths)
        valid = torch.arange(int(lengths.max()))[None, :] < lengths[:, None]
        xs = torch.randn(len(lengths), valid.shape[1], 8)
        with torch.no_grad():
            expected = module(xs, valid).numpy()
        actual = session.run(None, {"xs": xs.numpy(), "valid": valid.numpy()})[0]
        np.testing.assert_allclose(actual, expected, atol=1e-5)
        assert (actual[~valid.numpy()] == 0).all()
