"""STUDY.md's tables, rebuilt from the study's records alone (study/records/*.json).

One table per question (study_grid.GROUPS). A table shows the runs that have records
and names the runs still missing, so the study can be completed across several runs.
"""

from collections import defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from study_grid import EXPERT_COUNTS
from study_records import utterance_errors

from espnet_omnirouter.scoring.bootstrap import average_wer, seeds_and_utterances_interval

Record = dict
CTC_MODES = ("ctc_lexicon_lm", "ctc_greedy")
U2PP_MODES = ("attention_rescoring", "ctc_prefix_beam_search", "chunk16/streaming")
BOOTSTRAP_SAMPLES = 2000
# (system, baseline) pairs of tables 3 and 5, compared over seeds and utterances
EQUAL_SIZE_PAIRS = (("dense_x4", "dense"), ("switch", "dense_x4"), ("omni", "dense_x4"))
U2PP_PAIRS = (
    ("u2pp_moe", "u2pp_dense"),
    ("u2pp_moe", "u2pp_dense_x4"),
    ("u2pp_moe_lb", "u2pp_moe"),
    ("u2pp_omni", "u2pp_moe"),
)


def run_name(record: Record) -> str:
    return record["run"]["name"]


def model_of(record: Record) -> str:
    """The run's name without its seed: ``omni_s1`` -> ``omni``."""
    name = run_name(record)
    return name.rsplit("_s", 1)[0] if record["run"]["train"] else name


def fmt(value: Optional[float], digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def mean_std(values: Sequence[float], digits: int = 1) -> str:
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{np.mean(values):.{digits}f} ± {np.std(values, ddof=1):.{digits}f}"


def test_sets_of(records: Sequence[Record], mode: str) -> List[str]:
    for record in records:
        if mode in record["decoding"]:
            return list(record["decoding"][mode]["errors"])
    return []


def params(record: Record) -> str:
    total, active = record["parameters"]["total"], record["parameters"]["active"]
    return f"{total / 1e6:.2f}M / {active / 1e6:.2f}M"


def seeds_table(by_model: Dict[str, List[Record]], models: Sequence[str], mode: str) -> List[str]:
    """Mean ± standard deviation over seeds per test set and of the average."""
    records = [r for m in models for r in by_model.get(m, []) if mode in r["decoding"]]
    sets = test_sets_of(records, mode)
    if not sets:
        return []
    lines = [
        f"| model | seeds | params (total / active) | {' | '.join(sets)} | **average** |",
        "|---|---:|---|" + "---:|" * (len(sets) + 1),
    ]
    for model in models:
        runs = [r for r in by_model.get(model, []) if mode in r["decoding"]]
        if not runs:
            continue
        per_run = [utterance_errors(r, mode) for r in runs]
        cells = [mean_std([errors[s].wer for errors in per_run]) for s in sets]
        average = mean_std([average_wer(errors) for errors in per_run])
        seeds = ",".join(str(r["run"]["seed"]) for r in runs)
        lines.append(
            f"| {model} | {seeds} | {params(runs[0])} | {' | '.join(cells)} | **{average}** |"
        )
    return lines


def comparison_lines(
    by_model: Dict[str, List[Record]], pairs: Sequence[Tuple[str, str]], mode: str
) -> List[str]:
    """Seed-and-utterance bootstrap per pair, and each seed's utterance-only interval."""
    lines = []
    for system, baseline in pairs:
        system_runs = [r for r in by_model.get(system, []) if mode in r["decoding"]]
        base_runs = [r for r in by_model.get(baseline, []) if mode in r["decoding"]]
        if not system_runs or not base_runs:
            continue
        change, low, high = seeds_and_utterances_interval(
            [utterance_errors(r, mode) for r in base_runs],
            [utterance_errors(r, mode) for r in system_runs],
            BOOTSTRAP_SAMPLES,
        )
        verdict = "better" if high < 0 else "worse" if low > 0 else "no significant difference"
        single = [name for name, runs in ((system, system_runs), (baseline, base_runs))
                  if len(runs) < 2]  # fmt: skip
        if single:  # one run's interval says nothing of its training randomness
            verdict += f" (not conclusive: one seed of {' and '.join(single)})"
        per_seed = []
        for system_run in system_runs:
            for base_run in base_runs:
                if system_run["run"]["seed"] == base_run["run"]["seed"]:
                    _, seed_low, seed_high = seeds_and_utterances_interval(
                        [utterance_errors(base_run, mode)],
                        [utterance_errors(system_run, mode)],
                        BOOTSTRAP_SAMPLES,
                    )
                    seed_change = 100 * (
                        average_wer(utterance_errors(system_run, mode))
                        / average_wer(utterance_errors(base_run, mode))
                        - 1
                    )
                    per_seed.append(
                        f"seed {system_run['run']['seed']}: {seed_change:+.1f}% "
                        f"[{seed_low:+.1f}, {seed_high:+.1f}]"
                    )
        lines.append(
            f"- **{system} vs {baseline}**: {change:+.1f}% relative average WER, 95% CI over "
            f"seeds ({len(system_runs)} vs {len(base_runs)} runs) and utterances "
            f"[{low:+.1f}%, {high:+.1f}%]: **{verdict}**"
            + (f". Per seed, utterances only: {'; '.join(per_seed)}" if per_seed else "")
        )
    return lines


def average_of(record: Record, mode: str) -> Optional[float]:
    if mode not in record["decoding"]:
        return None
    return average_wer(utterance_errors(record, mode))


def clean_of(record: Record, mode: str) -> Optional[float]:
    errors = utterance_errors(record, mode) if mode in record["decoding"] else {}
    return errors["test_clean"].wer if "test_clean" in errors else None


def experts_table(records: Dict[str, Record], by_model: Dict[str, List[Record]]) -> List[str]:
    """Average WER against the number of experts (seed 0; E=4 also as its seed mean)."""
    lines = [
        "| model | experts | params (total / active) | test_clean (LM) | average (LM) "
        "| average (greedy) | 4-expert seed mean (LM) |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    dense = records.get("dense_s0")
    if dense:
        lines.append(
            f"| dense | 1 | {params(dense)} | {fmt(clean_of(dense, 'ctc_lexicon_lm'))} | "
            f"{fmt(average_of(dense, 'ctc_lexicon_lm'))} | {fmt(average_of(dense, 'ctc_greedy'))}"
            f" | {mean_std([average_of(r, 'ctc_lexicon_lm') for r in by_model.get('dense', [])])} |"
        )
    for base in ("switch", "omni"):
        for num_experts in EXPERT_COUNTS:
            name = f"{base}_s0" if num_experts == 4 else f"{base}_e{num_experts}_s0"
            record = records.get(name)
            if record is None:
                continue
            seed_mean = ""
            if num_experts == 4:
                seed_mean = mean_std(
                    [average_of(r, "ctc_lexicon_lm") for r in by_model.get(base, [])]
                )
            lines.append(
                f"| {base} | {num_experts} | {params(record)} | "
                f"{fmt(clean_of(record, 'ctc_lexicon_lm'))} | "
                f"{fmt(average_of(record, 'ctc_lexicon_lm'))} | "
                f"{fmt(average_of(record, 'ctc_greedy'))} | {seed_mean} |"
            )
    return lines


def speed_of(speed: Optional[dict], name: str, measure: str = "rtf") -> str:
    """``measure`` ("rtf" or "train_step_seconds") of ``name`` in a speed record, and its
    ratio to the record's baseline model."""
    if not speed or name not in speed.get(measure, {}):
        return ""
    value, base = speed[measure][name], speed[measure][speed["baseline"]]
    return (
        f"{value:.4f} ({value / base:.2f}x)"
        if measure == "rtf"
        else f"{value:.2f} s ({value / base:.2f}x)"
    )


def equal_size_table(records: Dict[str, Record], speed: Optional[dict]) -> List[str]:
    lines = [
        "| model | params (total / active) | average (LM) | average (greedy) | test_clean (LM) "
        "| training step, one run (x dense) | decode RTF, one run (x dense) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name in ("dense_s0", "dense_x4_s0", "switch_s0", "omni_s0"):
        record = records.get(name)
        if record is None:
            continue
        lines.append(
            f"| {model_of(record)} | {params(record)} | "
            f"{fmt(average_of(record, 'ctc_lexicon_lm'))} | "
            f"{fmt(average_of(record, 'ctc_greedy'))} | "
            f"{fmt(clean_of(record, 'ctc_lexicon_lm'))} | "
            f"{speed_of(speed, name, 'train_step_seconds')} | {speed_of(speed, name)} |"
        )
    return lines


def routing_row(label: str, routings: Sequence[dict]) -> Optional[str]:
    """Means over ``routings`` (runs of one model) of the routing measures."""
    routings = [r for r in routings if r]
    if not routings:
        return None

    def mean(key, reduce=np.mean):  # routing measures: shares, nats, association in [0, 1]
        return mean_std([float(reduce(r[key])) for r in routings], digits=2)

    ablation = [r["ablation"]["wer"] for r in routings if r.get("ablation")]
    ablation_cells = [
        mean_std([a[f] for a in ablation if f in a]) if ablation else ""
        for f in ("0.0", "0.1", "0.5", "1.0")
    ]
    busiest = mean_std([float(np.max(r["load"])) for r in routings], digits=2)
    return (
        f"| {label} | {len(routings)} | {mean('cramers_v_mean')} | "
        f"{mean('nmi_mean')} | {mean('neighbour_agreement')} | "
        f"{mean('frame_entropy')} | {mean('load_entropy')} | {busiest} | "
        + " | ".join(ablation_cells)
        + " |"
    )


def controls_table(records: Dict[str, Record], by_model: Dict[str, List[Record]]) -> List[str]:
    lines = [
        "| model | runs | Cramér's V (mean off-diagonal) | NMI (mean off-diagonal) "
        "| same expert in the next layer | router entropy per frame (nats) "
        "| entropy of the expert load (nats) | busiest expert's share, any layer "
        "| WER 0% reassigned | 10% | 50% | 100% |",
        "|---|---:|" + "---:|" * 10,
    ]
    rows = [
        ("switch, initialised", [records.get("switch_init")]),
        ("omni, initialised", [records.get("omni_init")]),
        ("switch, tied router init", [records.get("switch_tied_init_s0")]),
        ("switch, trained", by_model.get("switch", [])),
        ("omni, trained", by_model.get("omni", [])),
    ]
    for label, runs in rows:
        row = routing_row(label, [r["routing"] for r in runs if r])
        if row:
            lines.append(row)
    return lines


def u2pp_table(records: Dict[str, Record], speed: Optional[dict]) -> List[str]:
    modes = [m.split("/")[-1] + (" (chunk 16)" if "/" in m else "") for m in U2PP_MODES]
    lines = [
        "| model | change | params (total / active) | "
        + " | ".join(f"average, {m}" for m in modes)
        + " | test_clean, attention_rescoring | busiest expert's share, any layer "
        "| training step, one run (x u2pp_dense) | decode RTF, one run (x u2pp_dense) |",
        "|---|---|---|" + "---:|" * (len(modes) + 4),
    ]
    for name in ("u2pp_dense_s0", "u2pp_dense_x4_s0", "u2pp_moe_s0", "u2pp_moe_lb_s0",
                 "u2pp_omni_s0"):  # fmt: skip
        record = records.get(name)
        if record is None:
            continue
        routing = record.get("routing")
        busiest = fmt(float(np.max(routing["load"])), 2) if routing else ""
        cells = [fmt(average_of(record, mode)) for mode in U2PP_MODES]
        lines.append(
            f"| {model_of(record)} | {record['run']['change'] or '-'} | {params(record)} | "
            + " | ".join(cells)
            + f" | {fmt(clean_of(record, 'attention_rescoring'))} | {busiest} | "
            f"{speed_of(speed, name, 'train_step_seconds')} | {speed_of(speed, name)} |"
        )
    return lines


def missing_line(records: Dict[str, Record], group_runs: Sequence[str]) -> List[str]:
    missing = [name for name in group_runs if name not in records]
    return [f"Not yet run: {' '.join(missing)}."] if missing else []


def study_tables(
    records: Sequence[Record], speeds: Dict[str, dict], group_runs: Dict[str, List[str]]
) -> str:
    """The Markdown tables of STUDY.md (without its header and reading)."""
    by_name = {run_name(r): r for r in records}
    by_model: Dict[str, List[Record]] = defaultdict(list)
    for record in sorted(records, key=lambda r: r["run"]["seed"]):
        by_model[model_of(record)].append(record)
    seed_models = ("dense", "switch", "omni")
    pairs = [("omni", "dense"), ("omni", "switch"), ("switch", "dense")]
    sections = []
    for mode in CTC_MODES:
        table = seeds_table(by_model, seed_models, mode)
        if table:
            sections += [
                f"### 1. Seeds: WER (%) with `{mode}`, mean ± standard deviation over seeds",
                "",
                *table,
                "",
                *comparison_lines(by_model, pairs, mode),
                "",
            ]
    sections += missing_line(by_name, group_runs["seeds"]) + [""]
    sections += [
        "### 2. Number of experts (seed 0; same active parameters per frame)",
        "",
        *experts_table(by_name, by_model),
        "",
        "![average WER against the number of experts](study/figures/wer_vs_experts.png)",
        "",
        *missing_line(by_name, group_runs["experts"]),
        "",
        "### 3. A dense model of the same total size (seed 0)",
        "",
        *equal_size_table(by_name, speeds.get("equal_size")),
        "",
        *comparison_lines(by_model, EQUAL_SIZE_PAIRS, "ctc_lexicon_lm"),
        "",
        *missing_line(by_name, group_runs["equal_size"]),
        "",
        "### 4. Routing controls (encoder MoE layers, all test sets)",
        "",
        *controls_table(by_name, by_model),
        "",
        *missing_line(by_name, group_runs["controls"]),
        "",
        "### 5. U2++: WER (%) and decoding speed (seed 0)",
        "",
        *u2pp_table(by_name, speeds.get("u2pp")),
        "",
        *comparison_lines(by_model, U2PP_PAIRS, "attention_rescoring"),
        "",
        *missing_line(by_name, group_runs["u2pp"]),
    ]
    for group, speed in sorted(speeds.items()):
        sections += [
            "",
            f"Decoding and training speed of the `{group}` models, measured in one run: "
            f"`{speed['command']}` "
            f"({speed['date']}; {speed['description']}).",
        ]
    return "\n".join(sections).replace("\n\n\n", "\n\n").strip() + "\n"


def plot_wer_against_experts(records: Sequence[Record], path: Path) -> Optional[Path]:
    """Average WER (LM decoding, seed 0) against E for switch and omni; dense as a line."""
    import matplotlib.pyplot as plt

    from espnet_omnirouter.analysis.plots import save

    by_name = {run_name(r): r for r in records}
    curves = {}
    for base in ("switch", "omni"):
        names = [(e, f"{base}_s0" if e == 4 else f"{base}_e{e}_s0") for e in EXPERT_COUNTS]
        points = [(e, average_of(by_name[n], "ctc_lexicon_lm")) for e, n in names if n in by_name]
        if points:
            curves[base] = points
    if not curves:
        return None
    figure, axis = plt.subplots(figsize=(5, 3.6), layout="constrained")
    for (base, points), marker in zip(curves.items(), "so"):
        axis.plot(*zip(*points), marker=marker, label=base)
    if "dense_s0" in by_name:
        axis.axhline(average_of(by_name["dense_s0"], "ctc_lexicon_lm"), color="gray",
                     linestyle="--", label="dense")  # fmt: skip
    axis.set_xscale("log", base=2)
    axis.set_xticks(EXPERT_COUNTS, [str(e) for e in EXPERT_COUNTS])
    axis.set_xlabel("experts per MoE layer")
    axis.set_ylabel("average WER (%), ctc_lexicon_lm")
    axis.legend()
    return save(figure, path)
