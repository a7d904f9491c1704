"""A MoE layer exports as its own forward (the eager dispatch, traced) and stays sparse in
ONNX: each expert's MatMuls see only its own frames."""

import numpy as np
import onnx
import onnxruntime
import pytest
import torch

from espnet_omnirouter.export.sparse_moe import per_expert_parameters
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward


def moe_layer(top_k: int, capacity_factor: float | None, gate: str) -> MoEFeedForward:
    torch.manual_seed(0)
    layer = MoEFeedForward(
        8, 12, 0.0, torch.nn.SiLU(), num_experts=4, top_k=top_k, gate_normalization=gate,
        capacity_factor=capacity_factor,
    )  # fmt: skip
    return layer.eval()


class MaskedLayer(torch.nn.Module):
    """A MoE layer given its padding mask, as the encoders and decoders give it."""

    def __init__(self, layer: MoEFeedForward):
        super().__init__()
        self.layer = layer

    def forward(self, xs: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        return self.layer(xs, valid)[0]


def export(module: torch.nn.Module, args: tuple, path, names) -> None:
    axes = {name: {0: "B", 1: "T"} for name in [*names, "ys"]}
    with per_expert_parameters(module), torch.no_grad():
        torch.onnx.export(
            module, args, str(path), input_names=names, output_names=["ys"],
            dynamic_axes=axes, opset_version=20, dynamo=False,
        )  # fmt: skip


def test_per_expert_parameters_are_views_and_are_removed():
    layer = moe_layer(2, None, "topk_softmax")
    keys = list(layer.state_dict())
    with per_expert_parameters(layer) as rewritten:
        assert rewritten == 1
        experts = layer.experts
        assert experts.w_1_3.data_ptr() == experts.w_1[3].data_ptr()  # a view, not a copy
        assert torch.equal(experts.b_2_0, experts.b_2[0])
        assert len(layer.state_dict()) == len(keys) + 4 * 4
    assert list(layer.state_dict()) == keys


def test_export_without_the_per_expert_parameters_says_what_it_needs(tmp_path):
    layer = MaskedLayer(moe_layer(1, None, "full_softmax"))
    with pytest.raises(RuntimeError, match="per_expert_parameters"), torch.no_grad():
        torch.onnx.export(
            layer, (torch.randn(1, 5, 8), torch.ones(1, 5, dtype=torch.bool)),
            str(tmp_path / "moe.onnx"), opset_version=20, dynamo=False,
        )  # fmt: skip


@pytest.mark.parametrize("top_k", [1, 2])
def test_exported_layer_sorts_once_and_computes_each_frame_k_times(tmp_path, top_k):
    """One sort per layer, not one frame selection per expert: each expert's MatMuls see
    only its own frames, whatever their number (also none, or all)."""
    layer = moe_layer(top_k, None, "topk_softmax")
    path = tmp_path / "moe.onnx"
    export(MaskedLayer(layer), (torch.randn(1, 5, 8), torch.ones(1, 5, dtype=torch.bool)),
           path, ["xs", "valid"])  # fmt: skip
    model = onnx.load(str(path))
    ops = [node.op_type for node in model.graph.node]
    assert "NonZero" not in ops
    assert ops.count("TopK") == 2  # router, sort
    splits = [node for node in model.graph.node if node.op_type == "Split"]
    # frames (the E groups and the dropped ones), hidden activations (the E groups)
    assert [len(split.output) for split in splits] == [5, 4]
    assert ops.count("MatMul") == 1 + 2 * 4  # the router, two per expert
    split = splits[0]
    # The groups as extra outputs: their sizes are the frames routed to each expert.
    model.graph.output.extend(onnx.ValueInfoProto(name=name) for name in split.output)
    session = onnxruntime.InferenceSession(
        model.SerializeToString(), providers=["CPUExecutionProvider"]
    )
    for frames in (1, 2, 33):
        xs = torch.randn(1, frames, 8)
        valid = torch.ones(1, frames, dtype=torch.bool)
        with torch.no_grad():
            expected = layer(xs)[0].numpy()
            routed = layer.router(xs[0], top_k, "topk_softmax").expert_index
        ys, *groups = session.run(None, {"xs": xs.numpy(), "valid": valid.numpy()})
        np.testing.assert_allclose(ys, expected, atol=1e-5)
        assert [len(group) for group in groups] == [
            *torch.bincount(routed.reshape(-1), minlength=4).tolist(),
            0,
        ]


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
    export(module, (torch.randn(2, 6, 8), valid), path, ["xs", "valid"])
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
    if capacity_factor is not None:  # some assignments were really dropped
        uncapped = moe_layer(top_k, None, gate)
        with torch.no_grad():
            assert not torch.allclose(expected_of(module, xs, valid), uncapped(xs, valid)[0])


def expected_of(module: MaskedLayer, xs: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return module(xs, valid)
