"""Exported graphs of every model type equal the eager model: full context, chunk by chunk
with caches, attention decoders; the export leaves the model's state dict unchanged.

Tolerance: 1e-4 absolute on encoder outputs and log-probabilities (float32; the observed
differences are below 2e-6)."""

import json
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from onnx_models import MODEL_TYPES, load, make_model_dir

from espnet_omnirouter.export.exporter import ExportError, export_model
from espnet_omnirouter.export.onnx_modules import extend_positions
from espnet_omnirouter.runtime.rescoring import teacher_forcing

ATOL = 1e-4


@pytest.fixture(scope="module", params=MODEL_TYPES)
def exported(request, tmp_path_factory):
    """(model type, eager Speech2Text, export dir, state dict before export)."""
    root: Path = tmp_path_factory.mktemp(request.param)
    speech2text = load(make_model_dir(root, request.param))
    before = {k: v.clone() for k, v in speech2text.asr_model.state_dict().items()}
    export_model(speech2text, root / "onnx")
    return request.param, speech2text, root / "onnx", before


def session(directory: Path, name: str) -> onnxruntime.InferenceSession:
    return onnxruntime.InferenceSession(
        str(directory / f"{name}.onnx"), providers=["CPUExecutionProvider"]
    )


def features(lengths, size: int = 20, seed: int = 7) -> torch.Tensor:
    feats = torch.randn(
        len(lengths), max(lengths), size, generator=torch.Generator().manual_seed(seed)
    )
    for row, length in enumerate(lengths):
        feats[row, length:] = 0.0
    return feats


def test_export_keeps_the_state_dict(exported):
    _, speech2text, directory, before = exported
    after = speech2text.asr_model.state_dict()
    assert list(after) == list(before)
    assert all(torch.equal(after[key], before[key]) for key in before)
    description = json.loads((directory / "export.json").read_text())
    assert description["token_list"] == speech2text.asr_model.token_list


@pytest.mark.parametrize("lengths", [[150], [64, 131, 33]])
def test_full_context_encoder_and_ctc_equal_eager(exported, lengths):
    model_type, speech2text, directory, _ = exported
    model = speech2text.asr_model
    feats, feats_lens = features(lengths), torch.tensor(lengths)
    encoder_out, encoder_lens = session(directory, "encoder").run(
        None, {"feats": feats.numpy(), "feats_lens": feats_lens.numpy()}
    )
    log_probs = session(directory, "ctc").run(None, {"hidden": encoder_out})[0]
    with torch.no_grad():
        expected, expected_lens, _ = model.encoder(feats, feats_lens)
        if isinstance(expected, tuple):  # and the intermediate CTC outputs
            expected = expected[0]
        expected_log_probs = model.ctc.log_softmax(expected)
    assert encoder_lens.tolist() == expected_lens.tolist()
    for row, length in enumerate(expected_lens.tolist()):
        np.testing.assert_allclose(encoder_out[row, :length], expected[row, :length], atol=ATOL)
        np.testing.assert_allclose(
            log_probs[row, :length], expected_log_probs[row, :length], atol=ATOL
        )


@pytest.mark.parametrize("chunk_size, num_left_chunks", [(4, -1), (2, 1), (3, 0)])
def test_chunk_by_chunk_with_caches_equals_eager_streaming(exported, chunk_size, num_left_chunks):
    model_type, speech2text, directory, _ = exported
    if not model_type.startswith("u2pp"):
        assert not (directory / "chunk_encoder.onnx").exists()
        return
    encoder = speech2text.asr_model.encoder
    feats = features([117])
    with torch.no_grad():
        expected = encoder.forward_chunk_by_chunk(feats, chunk_size, num_left_chunks)
    description = json.loads((directory / "export.json").read_text())["encoder"]
    chunk_encoder = session(directory, "chunk_encoder")
    window, stride = encoder.streaming_window(chunk_size)
    blocks, size = description["num_blocks"], description["output_size"]
    att_cache = np.zeros((blocks, 1, 0, size), np.float32)
    cnn_cache = np.zeros((blocks, 1, size, description["cnn_cache_size"]), np.float32)
    required = chunk_size * num_left_chunks if num_left_chunks >= 0 else -1
    outputs, offset = [], 0
    for start in range(0, feats.shape[1] - description["right_context"], stride):
        output, att_cache, cnn_cache = chunk_encoder.run(
            None,
            {
                "chunk": feats[:, start : start + window].numpy(),
                "offset": np.array(offset, np.int64),
                "required_cache_size": np.array(required, np.int64),
                "att_cache": att_cache,
                "cnn_cache": cnn_cache,
            },
        )
        if num_left_chunks >= 0:
            assert att_cache.shape[2] <= required
        outputs.append(output)
        offset += output.shape[1]
    assert len(outputs) > 3
    np.testing.assert_allclose(np.concatenate(outputs, axis=1), expected.numpy(), atol=ATOL)


def test_decoders_equal_eager_teacher_forcing(exported):
    model_type, speech2text, directory, _ = exported
    model = speech2text.asr_model
    if model.decoder is None:
        assert not (directory / "decoder.onnx").exists()
        return
    hyps = [[2, 3, 2], [4], [3, 3, 2, 4, 2]]
    encoder_out = torch.randn(1, 23, model.encoder.output_size())
    ys_in, _, ys_in_lens = map(torch.from_numpy, teacher_forcing(hyps, model.sos, model.eos))
    r_ys_in = torch.from_numpy(teacher_forcing([h[::-1] for h in hyps], model.sos, model.eos)[0])
    outputs = session(directory, "decoder").run(
        None,
        {
            "encoder_out": encoder_out.numpy(),
            "hyps": ys_in.numpy(),
            "hyps_lens": ys_in_lens.numpy(),
            "r_hyps": r_ys_in.numpy(),
        },
    )
    memory = encoder_out.expand(len(hyps), -1, -1)
    memory_lens = torch.full((len(hyps),), 23)
    with torch.no_grad():
        l_logits, r_logits, _ = model.decoder.forward_bidirectional(
            memory, memory_lens, ys_in, ys_in_lens, r_ys_in
        )
    for actual, logits in zip(outputs, (l_logits, r_logits)):
        for row, length in enumerate(ys_in_lens.tolist()):
            np.testing.assert_allclose(
                actual[row, :length], logits.log_softmax(-1)[row, :length], atol=ATOL
            )


def test_unsupported_model_is_refused_by_name(exported, tmp_path):
    _, speech2text, _, _ = exported
    ctc = speech2text.asr_model.ctc
    speech2text.asr_model.ctc = None
    try:
        with pytest.raises(ExportError, match="no CTC head"):
            export_model(speech2text, tmp_path)
    finally:
        speech2text.asr_model.ctc = ctc


def test_weights_of_a_large_graph_are_gathered_into_one_page_aligned_file(tmp_path):
    """A graph over 2 GB is traced with one weight file per tensor; the export keeps them
    in one ``<graph>.onnx.data`` that ONNX Runtime reads (shown on a small graph)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from espnet_omnirouter.export.exporter import _gather_external_data

    weights = {"w1": np.random.rand(64, 33), "w2": np.random.rand(33, 8)}
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h"]),
            helper.make_node("MatMul", ["h", "w2"], ["y"]),
        ],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
        [numpy_helper.from_array(w.astype(np.float32), name) for name, w in weights.items()],
    )
    (tmp_path / "scratch").mkdir()
    traced = tmp_path / "scratch" / "g.onnx"
    onnx.save(
        helper.make_model(graph), str(traced), save_as_external_data=True,
        all_tensors_to_one_file=False, size_threshold=0,
    )  # fmt: skip
    assert sorted(p.name for p in traced.parent.iterdir()) == ["g.onnx", "w1", "w2"]
    _gather_external_data(traced, tmp_path / "g.onnx", tmp_path / "g.onnx.data")
    offsets = [
        int(entry.value)
        for tensor in onnx.load(
            str(tmp_path / "g.onnx"), load_external_data=False
        ).graph.initializer
        for entry in tensor.external_data
        if entry.key == "offset"
    ]
    assert offsets == [0, 12288]  # 64 x 33 float32 = 8448 bytes, padded to 4096 bytes
    x = np.random.rand(1, 64).astype(np.float32)
    output = onnxruntime.InferenceSession(str(tmp_path / "g.onnx")).run(None, {"x": x})[0]
    np.testing.assert_allclose(output, x @ weights["w1"] @ weights["w2"], rtol=1e-5)


def test_extending_the_positions_for_max_frames_changes_no_output(exported):
    """The export precomputes positional tables for --max_frames; past ESPnet's 5000-frame
    legacy table that used to re-index every frame's embedding (of the eager model too)."""
    encoder = exported[1].asr_model.encoder
    feats = features([90])

    def encoder_output() -> torch.Tensor:
        with torch.no_grad():
            out = encoder(feats, torch.tensor([90]))[0]
        return out[0] if isinstance(out, tuple) else out  # without intermediate CTC outputs

    before = encoder_output()
    extend_positions(encoder, 6000)
    torch.testing.assert_close(encoder_output(), before, rtol=0, atol=1e-6)


def test_self_conditioned_ctc_is_refused_by_name(tmp_path):
    import yaml
    from espnet2.tasks.asr import ASRTask
    from onnx_models import make_u2pp_experiment

    exp = make_u2pp_experiment(tmp_path, "u2pp")
    config = yaml.safe_load((exp / "config.yaml").read_text())
    config["encoder_conf"]["interctc_use_conditioning"] = True
    (exp / "config.yaml").write_text(yaml.safe_dump(config))
    args = ASRTask.get_parser().parse_args([])
    vars(args).update(config)
    torch.save(ASRTask.build_model(args).state_dict(), exp / "valid.loss.ave.pth")
    with pytest.raises(ExportError, match="encoder_conf.interctc_use_conditioning"):
        export_model(load(exp), tmp_path / "onnx")
