"""analyze_routing and plot_routing on tiny dense, switch and omni models: every output
file is written and non-empty, and the numbers are consistent with the data."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from conftest import make_experiment
from tiny_asr import SAMPLE_RATE, UTTERANCES, synthesize

from espnet_omnirouter.bin.analyze_routing import top1_gate
from espnet_omnirouter.data.kaldi_dir import Utterance, write_data_dir
from espnet_omnirouter.layers.moe.moe_feed_forward import MoEFeedForward

PER_MODEL_FILES = [
    "routing_stats.json", "association_cramers_v.csv", "association_nmi.csv",
    "expert_load.csv", "usage_by_set.csv", "association.png", "expert_load.png",
    "routing_frames.png", "domain_association.png", "reassignment.png",
]  # fmt: skip
FIGURES = [
    "routing_association.png", "expert_load.png", "routing_frames.png",
    "domain_association.png", "reassignment.png", "loss_curves.png", "routing_summary.md",
]  # fmt: skip


def make_data_dir(root: Path, name: str, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    utterances = []
    for index, text in enumerate(UTTERANCES[:6]):
        wav = root / "wav" / f"{name}_{index}.wav"
        wav.parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(wav, synthesize(text, rng), SAMPLE_RATE)
        utterances.append(Utterance(f"{name}_{index}", "spk", str(wav), text))
    write_data_dir(utterances, root / name)
    return root / name


def cli(module: str, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", f"espnet_omnirouter.bin.{module}", *args],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("gate_normalization, top_k", [("full_softmax", 1), ("topk_softmax", 2)])
def test_recorded_gate_is_the_one_the_layer_applied(gate_normalization, top_k):
    torch.manual_seed(0)
    layer = MoEFeedForward(8, 16, 0.0, torch.nn.ReLU(), 4, top_k, gate_normalization).eval()
    tokens = torch.randn(2, 5, 8)
    with torch.no_grad():
        _, record = layer(tokens)
        decision = layer.router(tokens.reshape(-1, 8), top_k, gate_normalization)
    assert torch.allclose(top1_gate(record), decision.gate[:, 0])


@pytest.mark.e2e
def test_analysis_and_comparison_write_every_file(tmp_path):
    sets = [make_data_dir(tmp_path / "data", name, seed) for seed, name in enumerate("xy")]
    exp_dirs = [make_experiment(tmp_path, moe_type) for moe_type in ("dense", "switch", "omni")]
    outputs = {}
    for exp_dir in exp_dirs:
        outputs[exp_dir] = cli(
            "analyze_routing", "--model", str(exp_dir), "--output_dir", str(exp_dir / "routing"),
            *map(str, sets), "--ablation_set", str(sets[0]), "--ablation_fractions", "0,1",
            "--examples", "2",
        )  # fmt: skip
        assert f"written to {exp_dir / 'routing'}" in outputs[exp_dir]
    dense, *moe = exp_dirs
    assert "dense has no MoE layers: nothing to analyse" in outputs[dense]
    assert [p.name for p in (dense / "routing").iterdir()] == ["routing_stats.json"]
    for exp_dir in moe:
        for name in PER_MODEL_FILES:
            assert (exp_dir / "routing" / name).stat().st_size > 0, (exp_dir, name)
        stats = json.loads((exp_dir / "routing" / "routing_stats.json").read_text())
        assert len(stats["layers"]) == 6  # 3 blocks x 2 FFNs
        assert np.allclose(np.sum(stats["load"], axis=1), 1.0)
        assert set(stats["usage_by_set"]) == {"x", "y"}
        assert [e["utt"] for e in stats["examples"]] == ["x_0", "x_1"]
        assert len(stats["examples"][0]["choices"]) == 6
        assert set(stats["ablation"]["wer"]) == {"0.0", "1.0"}
    (dense / "train.log").write_text(
        "x INFO: 1epoch:train:1-4batch: loss_ctc=9.0\n"
        "x INFO: 1epoch results: [train] loss_ctc=8.0, total_count=4, [valid] loss_ctc=7.0\n"
    )
    figures = tmp_path / "figures"
    printed = cli("plot_routing", "--output_dir", str(figures), *map(str, exp_dirs))
    for name in FIGURES:
        assert (figures / name).stat().st_size > 0, name
    table = (figures / "routing_summary.md").read_text()
    assert [line.split(" | ")[0] for line in table.splitlines()[2:]] == [
        "| dense",
        "| switch",
        "| omni",
    ]
    assert table in printed
