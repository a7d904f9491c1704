"""One exported MoE layer in ONNX Runtime at batch 1: the graph of ``bin/export`` against
ONNX Runtime's own MoE operator and the dense FFN of equal active size.

Candidates, each a graph of one layer (T frames of size D in, T out), timed interleaved:
    export:  ``export.sparse_moe`` (one sort of the assignments, a Split into expert groups,
             two MatMuls per expert), traced from ``MoEFeedForward`` as ``bin/export`` does;
    shared:  the same graph with every expert's MatMuls reading expert 0's weights: the same
             operators, routing and shapes, but 1/E of the weights to bring from memory (a
             control that separates the cost of dispatch from that of weight traffic);
    contrib: the router's MatMul, then ONNX Runtime's ``com.microsoft.MoE`` (its CPU kernel:
             routing, top-k, gates and the experts in one operator) on the same weights;
    dense:   ESPnet's ``PositionwiseFeedForward`` with ``top_k`` x H hidden units (the MoE
             layer's active size per frame).
Both MoE graphs are checked against the eager layer. Each graph but ``contrib`` is also
timed quantised to int8 as ``bin/export --int8`` quantises (``export.quantize``). Random
weights.

    python benchmarks/onnx_moe_layer.py --threads 1
"""

import argparse
import re
import tempfile
from pathlib import Path
from typing import Dict

import numpy as np
import onnx
import torch
from common import interleaved_medians, markdown_table, onnx_session, ratio, write_report
from onnx import TensorProto, helper, numpy_helper

from espnet_omnirouter.export.exporter import trace_to_onnx
from espnet_omnirouter.export.quantize import quantize_graph
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward
from espnet_omnirouter.utils.legacy_nets import PositionwiseFeedForward

# (E, top-k, gate): the default recipe's Switch/Omni layers and U2++ MoE's.
LAYERS = ((4, 1, "full_softmax"), (8, 2, "topk_softmax"))


class LayerOutput(torch.nn.Module):
    """A MoE layer's output alone (its routing record is not a graph output)."""

    def __init__(self, layer: MoEFeedForward):
        super().__init__()
        self.layer = layer

    def forward(self, xs: torch.Tensor) -> torch.Tensor:
        return self.layer(xs)[0]


def traced(module: torch.nn.Module, xs: torch.Tensor) -> bytes:
    """``module`` (1, T, D) -> (1, T, D) traced to ONNX as ``bin/export`` traces (MoE layers
    with ``export.sparse_moe``'s per-expert weights), with T dynamic."""
    if isinstance(module, MoEFeedForward):
        module = LayerOutput(module)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "layer.onnx"
        trace_to_onnx(module, (xs,), path, ["xs"], ["ys"], {"xs": {1: "T"}, "ys": {1: "T"}})
        return path.read_bytes()


def with_shared_expert_weights(model: bytes) -> bytes:
    """The traced export with every ``experts.{w,b}_{1,2}_<e>`` input replaced by expert 0's."""
    proto = onnx.load_from_string(model)
    expert_weight = re.compile(r"(experts\.[wb]_[12]_)\d+")
    for node in proto.graph.node:
        for index, name in enumerate(node.input):
            node.input[index] = expert_weight.sub(r"\g<1>0", name)
    used = {name for node in proto.graph.node for name in node.input}
    kept = [tensor for tensor in proto.graph.initializer if tensor.name in used]
    del proto.graph.initializer[:]
    proto.graph.initializer.extend(kept)
    return proto.SerializeToString()


def contrib_moe(layer: MoEFeedForward) -> bytes:
    """The layer as the router's MatMul and ONNX Runtime's ``com.microsoft.MoE``: experts
    (E, out, in), softmax over all logits then top-k, renormalised over the top-k for the
    top-k softmax gate."""
    experts = layer.experts
    arrays = {
        "router": layer.router.linear.weight.detach().t().numpy(),
        "w_1": experts.w_1.detach().transpose(1, 2).numpy(),
        "b_1": experts.b_1.detach().numpy(),
        "w_2": experts.w_2.detach().transpose(1, 2).numpy(),
        "b_2": experts.b_2.detach().numpy(),
    }
    size = layer.router.input_size
    nodes = [
        helper.make_node("Reshape", ["xs", "rows"], ["tokens"]),
        helper.make_node("MatMul", ["tokens", "router"], ["logits"]),
        helper.make_node(
            "MoE",
            ["tokens", "logits", "w_1", "b_1", "w_2", "b_2"],
            ["out"],
            domain="com.microsoft",
            activation_type="silu",
            k=layer.top_k,
            normalize_routing_weights=int(layer.gate_normalization == "topk_softmax"),
        ),  # fmt: skip
        helper.make_node("Reshape", ["out", "shape"], ["ys"]),
        helper.make_node("Shape", ["xs"], ["shape"]),
    ]
    initializers = [numpy_helper.from_array(np.ascontiguousarray(a), n) for n, a in arrays.items()]
    initializers.append(numpy_helper.from_array(np.array([-1, size], np.int64), "rows"))
    graph = helper.make_graph(
        nodes, "contrib_moe",
        [helper.make_tensor_value_info("xs", TensorProto.FLOAT, [1, "T", size])],
        [helper.make_tensor_value_info("ys", TensorProto.FLOAT, [1, "T", size])],
        initializers,
    )  # fmt: skip
    opsets = [helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    return helper.make_model(graph, opset_imports=opsets).SerializeToString()


def quantized(model: bytes) -> bytes:
    """``model`` quantised to int8 (routers kept float32), as ``bin/export --int8`` does."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "layer.onnx"
        path.write_bytes(model)
        quantize_graph(path)
        return path.read_bytes()


def layer_row(layer: MoEFeedForward, sessions: Dict, frames: int, args) -> list:
    """The timing cells of one layer, precision and T: each candidate's ms and ratio to
    dense, and the largest differences of the MoE graphs to the eager layer."""
    xs = torch.randn(1, frames, args.size)
    with torch.no_grad():
        expected = layer(xs)[0].numpy()
    inputs = {"xs": xs.numpy()}
    times = interleaved_medians(
        {name: (lambda s=s: s.run(None, inputs)) for name, s in sessions.items()},
        args.repeats, torch.device("cpu"),
    )  # fmt: skip
    cells = [f"{times['dense'] * 1e3:.3f}"]
    for name in ("export", "shared", "contrib"):
        if name in sessions:
            cells += [f"{times[name] * 1e3:.3f}", ratio(times[name], times["dense"])]
        else:
            cells += ["", ""]
    differences = [
        f"{np.abs(sessions[name].run(None, inputs)[0] - expected).max():.0e}"
        for name in ("export", "contrib") if name in sessions
    ]  # fmt: skip
    return cells + [" / ".join(differences)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=256, help="D")
    parser.add_argument("--hidden_units", type=int, default=1024, help="H of each expert")
    parser.add_argument("--frames", type=int, nargs="+", default=[16, 75, 150, 300])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    torch.manual_seed(0)
    rows = []
    for num_experts, top_k, gate in LAYERS:
        layer = MoEFeedForward(
            args.size, args.hidden_units, 0.0, torch.nn.SiLU(), num_experts, top_k, gate
        ).eval()
        dense = PositionwiseFeedForward(
            args.size, top_k * args.hidden_units, 0.0, torch.nn.SiLU()
        ).eval()
        example = torch.randn(1, 75, args.size)
        graphs = {"export": traced(layer, example)}
        graphs.update(
            shared=with_shared_expert_weights(graphs["export"]),
            contrib=contrib_moe(layer),
            dense=traced(dense, example),
        )
        int8 = {name: quantized(graphs[name]) for name in ("export", "shared", "dense")}
        for precision, models in (("float32", graphs), ("int8", int8)):
            sessions = {name: onnx_session(model, args.threads) for name, model in models.items()}
            for frames in args.frames:
                rows.append([num_experts, top_k, precision, frames]
                            + layer_row(layer, sessions, frames, args))  # fmt: skip
    import onnxruntime

    write_report(
        "onnx_moe_layer_cpu",
        "Deployment: one exported MoE layer, our graph vs ONNX Runtime's MoE operator (cpu)",
        f"One layer, D={args.size}, H={args.hidden_units} per expert, batch 1, T frames; "
        f"ONNX Runtime {onnxruntime.__version__}, {args.threads} intra-op thread(s), median "
        f"of {args.repeats} interleaved repeats. *export*: the graph of `bin/export` "
        "(`export/sparse_moe.py`); *shared*: that graph with every expert reading expert "
        "0's weights (same operators and shapes, 1/E of the weight traffic); *contrib*: "
        "the router's MatMul and `com.microsoft.MoE` on the same weights; *dense*: the "
        "FFN of the MoE layer's active size (top-k x H hidden units). Ratios: time / dense "
        "time. *max diff*: largest difference to the eager layer's output (export / "
        "contrib; int8: export). int8: each graph but contrib quantised as `bin/export "
        "--int8` does. Random weights.\n\n"
        + markdown_table(
            [
                "E",
                "top-k",
                "precision",
                "T",
                "dense ms",
                "export ms",
                "vs dense",
                "shared ms",
                "vs dense",
                "contrib ms",
                "vs dense",
                "max diff",
            ],
            rows,
        ),  # fmt: skip
        torch.device("cpu"),
    )


if __name__ == "__main__":
    main()
