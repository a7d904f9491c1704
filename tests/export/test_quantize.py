"""int8 quantisation of an export dir (``export.quantize``, ``bin/export --int8``): weights
of every constant-weight MatMul but the MoE routers become int8, outputs stay close to the
float32 graphs, and the runtime decodes the quantised export. (Sizes and speed are measured
at the recipe's size by benchmarks/onnx_runtime.py: the tiny model's weights are smaller than
the scales and nodes quantisation adds.)"""

import json
import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx_models import make_model_dir

from espnet_omnirouter.bin.export import main as export_main
from espnet_omnirouter.export.quantize import QUANTIZATION, quantize_export, router_matmuls
from espnet_omnirouter.runtime.decoding import DecodingOptions, decode
from espnet_omnirouter.runtime.exported_model import ExportedModel


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """(float32 export dir, int8 export dir) of a tiny untrained U2++ MoE, by bin/export."""
    root: Path = tmp_path_factory.mktemp("quantize")
    exp = make_model_dir(root, "u2pp_moe")
    common = ["--model", str(exp), "--model_file", "valid.loss.ave.pth", "--max_frames", "300"]
    assert export_main([*common, "--output_dir", str(root / "float32")]) == 0
    assert export_main([*common, "--output_dir", str(root / "int8"), "--int8"]) == 0
    return root / "float32", root / "int8"


def initializers(model) -> set:
    return {tensor.name for tensor in model.graph.initializer}


@pytest.mark.parametrize("graph", ["encoder", "chunk_encoder", "decoder"])
def test_every_constant_weight_matmul_but_the_routers_is_int8(exports, graph):
    float_dir, int8_dir = exports
    original = onnx.load(str(float_dir / f"{graph}.onnx"))
    quantized = onnx.load(str(int8_dir / f"{graph}.onnx"))
    routers = router_matmuls(original)
    # The tiny model's MoE layers: 3 encoder blocks x 2 FFNs; 1 + 1 decoder blocks.
    assert len(routers) == {"encoder": 6, "chunk_encoder": 6, "decoder": 2}[graph]
    weights = initializers(quantized)
    float_matmuls = [
        node.name
        for node in quantized.graph.node
        if node.op_type == "MatMul" and node.input[1] in weights
    ]
    assert sorted(float_matmuls) == sorted(router_matmuls(quantized)) == sorted(routers)
    assert sum(node.op_type == "MatMulInteger" for node in quantized.graph.node) > 2 * len(routers)


def test_quantised_encoder_stays_close_to_float32(exports):
    """Close, not equal: untrained random weights amplify the quantisation noise layer by
    layer (the default recipe's random-weight dense and MoE U2++ encoders measured 12-14%
    relative difference); catastrophic errors (wrong scales) would give 100% or more."""
    float_dir, int8_dir = exports
    feats = np.random.default_rng(0).standard_normal((1, 90, 20)).astype(np.float32)
    inputs = {"feats": feats, "feats_lens": np.array([90])}
    outputs = [
        onnxruntime.InferenceSession(str(d / "encoder.onnx")).run(None, inputs)[0]
        for d in (float_dir, int8_dir)
    ]
    relative = np.linalg.norm(outputs[1] - outputs[0]) / np.linalg.norm(outputs[0])
    assert 0 < relative < 0.5


def test_int8_export_is_recorded_and_decodes(exports, tmp_path):
    float_dir, int8_dir = exports
    assert json.loads((int8_dir / "export.json").read_text())["quantization"] == QUANTIZATION
    assert "quantization" not in json.loads((float_dir / "export.json").read_text())
    samples = (0.1 * np.random.default_rng(1).standard_normal(8000)).astype(np.float32)
    model = ExportedModel(int8_dir, num_threads=1)
    for mode, options in (("ctc_greedy", {}), ("streaming", {"chunk_size": 4})):
        decode(model, samples, mode, DecodingOptions(ctc_beam_size=2, **options))
    shutil.copytree(int8_dir, tmp_path / "again")
    with pytest.raises(ValueError, match="already quantised"):
        quantize_export(tmp_path / "again")
