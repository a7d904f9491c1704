"""Dynamic int8 quantisation of an export dir's graphs with ONNX Runtime's quantiser.

Every MatMul with a constant weight (attention and convolution projections, each expert's
FFN, the decoders, CTC) gets int8 weights, one scale per output channel, and 8-bit
activations quantised on the fly (``onnxruntime.quantization.quantize_dynamic``). The MoE
routers stay float32 (their MatMuls, the ones whose output a TopK reads, are excluded):
routing is computed in float32 as in training, where low-precision routers are unstable.
"""

import json
import tempfile
from pathlib import Path
from typing import Dict, List

QUANTIZATION = "int8_dynamic"


def router_matmuls(model) -> List[str]:
    """Names of the MatMul nodes of ``model`` (an ONNX ModelProto) that a TopK reads: the
    routers of the sparse MoE layers (``sparse_moe``)."""
    producers = {output: node for node in model.graph.node for output in node.output}
    routers = []
    for node in model.graph.node:
        if node.op_type == "TopK" and node.input[0] in producers:
            producer = producers[node.input[0]]
            if producer.op_type == "MatMul":
                routers.append(producer.name)
    return routers


def quantize_graph(path: Path) -> None:
    """Quantise the graph at ``path`` in place (see the module docstring)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    model = onnx.load(str(path), load_external_data=False)
    routers = router_matmuls(model)
    external_data = path.with_name(path.name + ".data")
    with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
        quantized = Path(scratch) / path.name
        quantize_dynamic(
            path,
            quantized,
            op_types_to_quantize=["MatMul"],
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=routers,
            use_external_data_format=external_data.exists(),
        )
        external_data.unlink(missing_ok=True)
        for written in Path(scratch).iterdir():  # the graph, and its weights when > 2 GB
            written.replace(path.parent / written.name)


def quantize_export(directory: Path) -> Dict[str, int]:
    """Quantise every graph of the export dir ``directory`` (``bin/export``) in place and
    record it in its ``export.json`` (``"quantization": "int8_dynamic"``).

    Returns:
        Each graph's size in bytes after quantisation (with its external weights).
    """
    description_file = Path(directory) / "export.json"
    description = json.loads(description_file.read_text())
    if description.get("quantization"):
        raise ValueError(f"{directory} is already quantised ({description['quantization']})")
    sizes = {}
    for name, file_name in description["graphs"].items():
        path = Path(directory) / file_name
        quantize_graph(path)
        sizes[name] = sum(p.stat().st_size for p in path.parent.glob(f"{path.name}*"))
    description["quantization"] = QUANTIZATION
    description_file.write_text(json.dumps(description, indent=2) + "\n")
    return sizes
