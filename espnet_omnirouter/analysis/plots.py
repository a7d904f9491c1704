"""Figures of the routing analysis (PNG, matplotlib), one model or several side by side.

Each function takes ``models``: (name, routing summary) pairs, the summary being what
``bin/analyze_routing`` writes to ``routing_stats.json`` (``RoutingStatistics.summary()``
plus ``examples`` and ``ablation``). A model without MoE layers gets an empty panel that
says so, so dense, switch and omni can be shown in one figure.
"""

from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import numpy as np

from espnet_omnirouter.analysis.training_log import TrainingCurves
from espnet_omnirouter.utils.extras import import_optional

import_optional("matplotlib", "plotting").use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ModelRouting = Tuple[str, dict]


def save(figure, path: Path) -> Path:
    """Write ``figure`` to ``path`` (PNG) through a sibling file renamed into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(path.name + ".tmp")
    figure.savefig(staging, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    staging.replace(path)
    return path


def _panels(count: int, width: float = 4.6, height: float = 4.0):
    figure, axes = plt.subplots(
        1, count, figsize=(width * count, height), squeeze=False, layout="constrained"
    )
    return figure, list(axes[0])


def _no_routing(axis, name: str) -> None:
    axis.text(0.5, 0.5, "no MoE layers:\nno routing", ha="center", va="center", fontsize=12)
    axis.set_title(name)
    axis.set_axis_off()


def _layer_ticks(axis, layers: List[str], which: str = "both") -> None:
    positions = np.arange(len(layers))
    labels = [
        name.replace("enc", "").replace("_macaron", "m").replace("_ffn", "f") for name in layers
    ]
    if which in ("x", "both"):
        axis.set_xticks(positions, labels, rotation=90, fontsize=7)
    if which in ("y", "both"):
        axis.set_yticks(positions, labels, fontsize=7)


def plot_association(models: Sequence[ModelRouting], path: Path, measure: str = "cramers_v"):
    """L x L association of the layers' expert choices per model (heatmap)."""
    title = {"cramers_v": "Cramér's V", "nmi": "normalised mutual information"}[measure]
    figure, axes = _panels(len(models))
    for axis, (name, summary) in zip(axes, models):
        if not summary["layers"]:
            _no_routing(axis, name)
            continue
        matrix = np.array(summary[measure])
        off_diagonal = matrix[~np.eye(len(matrix), dtype=bool)]
        image = axis.imshow(matrix, vmin=0.0, vmax=1.0, cmap="viridis")
        _layer_ticks(axis, summary["layers"])
        axis.set_title(f"{name}\nmean off-diagonal {off_diagonal.mean():.2f}")
        axis.set_xlabel("MoE layer (block, m = macaron / f = second FFN)")
        figure.colorbar(image, ax=axis, fraction=0.046)
    figure.suptitle(f"Association between layers' expert choices ({title})")
    return save(figure, path)


def plot_expert_load(models: Sequence[ModelRouting], path: Path):
    """Share of frames each expert takes in each layer (stacked bars per layer)."""
    figure, axes = _panels(len(models), width=5.8)
    for axis, (name, summary) in zip(axes, models):
        if not summary["layers"]:
            _no_routing(axis, name)
            continue
        load = np.array(summary["load"])  # (L, E)
        bottom = np.zeros(len(load))
        for expert in range(load.shape[1]):
            axis.bar(np.arange(len(load)), load[:, expert], bottom=bottom, label=f"expert {expert}")
            bottom += load[:, expert]
        _layer_ticks(axis, summary["layers"], which="x")
        entropy, uniform = np.mean(summary["entropy"]), np.log(load.shape[1])
        axis.set_title(f"{name}\nrouter entropy {entropy:.2f} nats (uniform {uniform:.2f})")
        axis.set_ylabel("share of frames")
        axis.set_ylim(0, 1)
        axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    figure.suptitle("Expert load per MoE layer")
    return save(figure, path)


def plot_routing_frames(models: Sequence[ModelRouting], path: Path):
    """Expert chosen at every frame of one utterance in every layer, per MoE model."""
    routed = [(name, s) for name, s in models if s["layers"] and s.get("examples")]
    rows = max(len(routed), 1)
    figure, axes = plt.subplots(rows, 1, figsize=(11, 2.4 * rows), squeeze=False)
    if not routed:
        _no_routing(axes[0, 0], ", ".join(name for name, _ in models))
    for axis, (name, summary) in zip(axes[:, 0], routed):
        example = summary["examples"][0]
        choices = np.array(example["choices"])  # (L, T)
        num_experts = summary["num_experts"]
        image = axis.imshow(
            choices, aspect="auto", interpolation="nearest", vmin=-0.5, vmax=num_experts - 0.5,
            cmap=plt.get_cmap("tab10", num_experts),
        )  # fmt: skip
        _layer_ticks(axis, summary["layers"], which="y")
        axis.set_title(f"{name}: {example['utt']} ({example['set']})", fontsize=10)
        axis.set_xlabel("encoder frame")
        bar = figure.colorbar(image, ax=axis, ticks=range(num_experts), fraction=0.03)
        bar.set_label("expert")
    figure.suptitle("Expert per frame and layer")
    figure.tight_layout()
    return save(figure, path)


def plot_domain_association(models: Sequence[ModelRouting], path: Path):
    """Per layer, Cramér's V between test set and expert: do experts specialise by
    condition (voice, speed, noise, ...)?"""
    figure, axis = plt.subplots(figsize=(7, 4))
    for name, summary in models:
        if summary["layers"] and summary["domain_association"]:
            axis.plot(summary["domain_association"], marker="o", label=name)
            _layer_ticks(axis, summary["layers"], which="x")
    axis.set_ylabel("Cramér's V (test set, expert)")
    axis.set_xlabel("MoE layer")
    axis.set_title("Expert specialisation by test condition")
    axis.set_ylim(bottom=0)
    axis.legend()
    return save(figure, path)


def plot_loss_curves(curves: Dict[str, TrainingCurves], path: Path, statistic: str = "loss"):
    """Training loss per update and validation loss per epoch, one line per model."""
    figure, (train_axis, valid_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for name, curve in curves.items():
        if curve.train_steps:
            steps, values = zip(*curve.train_steps)
            train_axis.plot(steps, values, label=name, linewidth=1)
        valid = [epoch["valid"].get(statistic) for epoch in curve.epochs]
        valid_axis.plot(range(1, len(valid) + 1), valid, marker="o", label=name)
    train_axis.set(xlabel="update", ylabel=f"training {statistic}", title="Training loss")
    valid_axis.set(xlabel="epoch", ylabel=f"validation {statistic}", title="Validation loss")
    train_axis.set_yscale("log")
    for axis in (train_axis, valid_axis):
        axis.legend()
    return save(figure, path)


def plot_reassignment(models: Sequence[ModelRouting], path: Path):
    """WER against the fraction of routing decisions reassigned at random."""
    figure, axis = plt.subplots(figsize=(6, 4))
    ablations = [(name, summary["ablation"]) for name, summary in models if summary.get("ablation")]
    for name, ablation in ablations:
        fractions = sorted(ablation["wer"], key=float)
        axis.plot(
            [100 * float(f) for f in fractions], [ablation["wer"][f] for f in fractions],
            marker="o", label=name,
        )  # fmt: skip
    axis.set(xlabel="routing decisions reassigned at random (%)", ylabel="WER (%)")
    if ablations:
        ablation = ablations[0][1]
        axis.set_title(f"Random expert reassignment ({', '.join(ablation['sets'])}, "
                       f"{ablation['decoding']})", fontsize=10)  # fmt: skip
        axis.legend()
    return save(figure, path)
