"""Compare the routing of several models side by side, with their loss curves.

Usage:
    python -m espnet_omnirouter.bin.plot_routing --output_dir figures \
        exp/asr_dense exp/asr_switch exp/asr_omni

Reads each experiment's routing/routing_stats.json (from bin/analyze_routing) and
train.log (ESPnet's), and writes to --output_dir:

    routing_association.png   L x L Cramér's V of the layers' expert choices, per model
    expert_load.png           share of frames per expert and layer, per model
    routing_frames.png        expert per frame and layer of one utterance, per model
    domain_association.png    Cramér's V between test set and expert, per layer
    reassignment.png          WER against the share of decisions reassigned at random
    loss_curves.png           training loss per update and validation loss per epoch
    routing_summary.md        one row per model: the numbers behind the figures
"""

import argparse
import json
from pathlib import Path
from typing import List

import numpy as np

from espnet_omnirouter.analysis import plots
from espnet_omnirouter.analysis.plots import ModelRouting
from espnet_omnirouter.analysis.training_log import read_training_log
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.files import write_text_atomically


def summary_table(models: List[ModelRouting]) -> str:
    """Markdown: per model the mean off-diagonal association, neighbour agreement,
    router entropy, busiest expert's share, specialisation by set and ablation WERs."""
    fractions = sorted(
        {f for _, s in models for f in s.get("ablation", {}).get("wer", {})}, key=float
    )
    header = [
        "model", "Cramér's V (mean, off-diagonal)", "NMI (mean, off-diagonal)",
        "same index in next layer", "router entropy (nats)", "busiest expert's share",
        "Cramér's V (set, expert)", *(f"WER {100 * float(f):g}% reassigned" for f in fractions),
    ]  # fmt: skip
    lines = ["| " + " | ".join(header) + " |", "|---" + "|---:" * (len(header) - 1) + "|"]
    for name, summary in models:
        if not summary["layers"]:
            lines.append(f"| {name} |" + " |" * (len(header) - 1))
            continue
        off_diagonal = ~np.eye(len(summary["layers"]), dtype=bool)
        wer = summary.get("ablation", {}).get("wer", {})
        cells = [
            np.array(summary["cramers_v"])[off_diagonal].mean(),
            np.array(summary["nmi"])[off_diagonal].mean(),
            np.mean(summary["neighbour_agreement"]),
            np.mean(summary["entropy"]),
            np.max(summary["load"]),
            np.mean(summary["domain_association"]) if summary["domain_association"] else np.nan,
        ]
        row = [f"{value:.2f}" for value in cells] + [
            f"{wer[f]:.1f}" if f in wer else "" for f in fractions
        ]
        lines.append(f"| {name} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("exp_dirs", type=Path, nargs="+", help="exp/asr_<model> dirs")
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument(
        "--loss", default="loss_ctc", help="statistic of the loss curves (ESPnet's log name)"
    )
    args = parser.parse_args()
    setup_cli_logging()
    models, curves = [], {}
    for exp_dir in args.exp_dirs:
        stats = exp_dir / "routing" / "routing_stats.json"
        if not stats.is_file():
            parser.error(f"{stats} not found: run bin/analyze_routing on {exp_dir} first")
        name = exp_dir.name.removeprefix("asr_")
        models.append((name, json.loads(stats.read_text())))
        if (exp_dir / "train.log").is_file():
            curves[name] = read_training_log(exp_dir / "train.log", args.loss)
    out = args.output_dir
    written = [
        plots.plot_association(models, out / "routing_association.png"),
        plots.plot_expert_load(models, out / "expert_load.png"),
        plots.plot_routing_frames(models, out / "routing_frames.png"),
        plots.plot_domain_association(models, out / "domain_association.png"),
        plots.plot_reassignment(models, out / "reassignment.png"),
        plots.plot_loss_curves(curves, out / "loss_curves.png", args.loss),
    ]
    write_text_atomically(out / "routing_summary.md", summary_table(models))
    print(f"[plot_routing] {', '.join(p.name for p in written)} and routing_summary.md in {out}")
    print(summary_table(models))


if __name__ == "__main__":
    main()
