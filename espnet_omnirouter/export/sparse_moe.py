"""What ONNX export needs of the MoE layers: each expert's weights as its own parameter.

A MoE layer exports as its own forward (``layers.moe.dispatch``): the router (MatMul,
TopK, Softmax in float32), one sort of the assignments by expert, one Gather of the frames
in expert order, one Split into the E groups (sizes a graph value), each group's two
MatMuls on its expert's weights, one Gather back and the gates; every frame is computed by
its top-k experts only, padding and dropped assignments by none.

``StackedExperts`` keeps its weights stacked (E, ...). Sliced per expert, they would be
constant-folded into copies (3 GB for a 1B-parameter MoE) or read through a Gather, which
ONNX Runtime cannot prepack and dynamic quantisation does not quantise; so for the export
each expert gets its weights as parameters of their own, views of the stacked ones.
"""

import contextlib
from typing import Iterator

import torch

from espnet_omnirouter.layers.moe.experts import EXPERT_WEIGHTS, StackedExperts


@contextlib.contextmanager
def per_expert_parameters(model: torch.nn.Module) -> Iterator[int]:
    """Within the block, the experts of every MoE layer of ``model`` also have their
    weights as ``w_1_<e>``, ``b_1_<e>``, ... (views of the stacked ``w_1`` ..., no copies),
    which their export reads; removed on exit, so the state dict keys stay the same.
    Yields the number of MoE layers."""
    layers = [module for module in model.modules() if isinstance(module, StackedExperts)]
    for experts in layers:
        for name in EXPERT_WEIGHTS:
            stacked = getattr(experts, name).detach()
            for expert in range(experts.num_experts):
                view = torch.nn.Parameter(stacked[expert], requires_grad=False)
                experts.register_parameter(f"{name}_{expert}", view)
    try:
        yield len(layers)
    finally:
        for experts in layers:
            for name in EXPERT_WEIGHTS:
                for expert in range(experts.num_experts):
                    delattr(experts, f"{name}_{expert}")
