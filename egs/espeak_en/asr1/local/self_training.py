"""Self-training (run.sh stage 12): the steps between bin/pseudo_label and a retrained model.

    python local/self_training.py score --work_dir data/pool_pl_omni.work \
        --truth data/pool/text --output exp/asr_omni_st/pseudo_labels.json
    python local/self_training.py combine --output data/train_st_omni data/train data/pool_pl_omni
    python local/self_training.py table --exp_dir exp --data_dir data --models dense omni \
        --test_sets test_clean test_fast --mode ctc_lexicon_lm --output exp/self_training.md

``score`` measures the pseudo-labels against the pool's withheld transcripts at each filtering
level (the most confident 100%, 80%, 50%, ...), ``combine`` joins Kaldi data dirs (the
labelled training set and the kept pseudo-labels) into one, and ``table`` writes the
self-training section of RESULTS.md from the scores and the decodings before and after.
"""

import argparse
import datetime
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Dict, List

import numpy as np

from espnet_omnirouter.asr.decoding.confidence import CONFIDENCES
from espnet_omnirouter.bin.make_results import machine_description
from espnet_omnirouter.bin.pseudo_label import PLAN_FILE, read_records, select
from espnet_omnirouter.data.kaldi_dir import Utterance, validate_data_dir, write_data_dir
from espnet_omnirouter.scoring.bootstrap import average_wer, relative_change_interval
from espnet_omnirouter.scoring.results_table import load_result
from espnet_omnirouter.scoring.wer import UtteranceErrors, read_kaldi_text, score
from espnet_omnirouter.utils.files import write_text_atomically
from espnet_omnirouter.utils.stage_times import format_duration, read_stage_times

ORACLE = "oracle"  # the utterances of lowest true WER first
POOL_STEP = "pool_data"  # run.sh's stage_times.tsv step of the pool's synthesis


def score_pseudo_labels(args: argparse.Namespace) -> None:
    """WER of the kept pseudo-labels against the truth at each --keep_fractions level, for
    the --confidence that filtered them, every other measure, and the oracle (the
    utterances of lowest true WER kept first: what a perfect confidence would keep)."""
    plan = json.loads((args.work_dir / PLAN_FILE).read_text())
    records = read_records(args.work_dir, len(plan["shards"]))
    truth = read_kaldi_text(args.truth)
    errors = score({r["utt"]: truth[r["utt"]] for r in records},
                   {r["utt"]: r["text"] for r in records})  # fmt: skip
    true_wer = dict(zip(errors.utt_ids, errors.errors / np.maximum(errors.ref_words, 1)))
    rankings = {
        measure: [r["utt"] for r in select(records, measure, None, 1.0)[0]]
        for measure in CONFIDENCES
    }
    # Ranked among the same utterances as the measures: those with a non-empty text.
    rankings[ORACLE] = sorted(rankings[args.confidence], key=lambda utt: true_wer[utt])
    by_measure = {
        measure: [
            level(ranking[: round(f * len(ranking))], f, errors, records)
            for f in args.keep_fractions
        ]  # fmt: skip
        for measure, ranking in rankings.items()
    }
    result = {
        "pool": len(records), "confidence": args.confidence,
        "levels": by_measure[args.confidence], "by_confidence": by_measure,
    }  # fmt: skip
    write_text_atomically(args.output, json.dumps(result, indent=1) + "\n")
    for measure, levels in by_measure.items():
        wers = ", ".join(f"top {x['keep_fraction']:.0%} {x['wer']:.1f}%" for x in levels)
        print(f"[self_train] {args.work_dir.name}: pseudo-label WER by {measure}: {wers}")


def level(
    kept: List[str], fraction: float, errors: UtteranceErrors, records: List[Dict]
) -> Dict[str, float]:
    """The WER, size and hours of the kept utterances ``kept``."""
    index = {utt: i for i, utt in enumerate(errors.utt_ids)}
    rows = [index[utt] for utt in kept]
    duration = {r["utt"]: r["duration"] for r in records}
    return {
        "keep_fraction": fraction,
        "utterances": len(kept),
        "wer": round(100 * errors.errors[rows].sum() / max(errors.ref_words[rows].sum(), 1), 2),
        "hours": round(sum(duration[utt] for utt in kept) / 3600, 3),
    }


def read_table(path: Path) -> Dict[str, str]:
    return read_kaldi_text(path) if path.is_file() else {}


def combine(args: argparse.Namespace) -> None:
    """One data dir of the utterances of every input (an id in two inputs is refused)."""
    utterances: Dict[str, Utterance] = {}
    for directory in args.inputs:
        validate_data_dir(directory, check_audio=False)
        wav, text = read_table(directory / "wav.scp"), read_table(directory / "text")
        speakers = read_table(directory / "utt2spk")
        for utt, entry in wav.items():
            if utt in utterances:
                sys.exit(f"combine: utterance {utt} of {directory} is also in another input")
            utterances[utt] = Utterance(utt, speakers[utt], entry, text[utt])
    write_data_dir(sorted(utterances.values(), key=lambda u: u.utt_id), args.output)
    print(
        f"[self_train] {args.output}: {len(utterances)} utterances from "
        f"{', '.join(str(d) for d in args.inputs)}"
    )


def write_table(args: argparse.Namespace) -> None:
    """The self-training section: pseudo-label WER per filtering level and the test WERs
    of each model before (``asr_<model>``) and after (``asr_<model>_st``) self-training."""
    lines: List[str] = [
        "## Self-training on pseudo-labels",
        "",
        f"Command: `{args.command}` (written on {datetime.date.today().isoformat()}). Each "
        "model labels the untranscribed pool (`data/pool`: shifted voices, rates and noise) "
        "with `bin/pseudo_label`; the most confident share (`--pl_keep_fraction`) is added "
        "to the labelled training set and the model is trained again from scratch on both. "
        "Pseudo-label WER is measured against the pool's withheld transcripts; the change of "
        "the average WER is relative, with a paired bootstrap interval over the test "
        "utterances (it does not cover training randomness).",
        "",
    ]
    scores = {
        model: json.loads((args.exp_dir / f"asr_{model}_st" / "pseudo_labels.json").read_text())
        for model in args.models
    }
    fractions = [level["keep_fraction"] for level in next(iter(scores.values()))["levels"]]
    header = [
        "model",
        *(f"pseudo-label WER, top {f:.0%}" for f in fractions),
        f"average WER ({args.mode}) before",
        "after",
        "change [95% CI]",
        "test_clean before",
        "after",
    ]
    lines += ["| " + " | ".join(header) + " |", "|---|" + "---:|" * (len(header) - 1)]
    for model in args.models:
        before, after = (
            load_result(
                args.exp_dir / f"asr_{name}", args.data_dir, args.test_sets, args.mode, name
            )
            for name in (model, f"{model}_st")
        )
        if before is None or after is None:
            sys.exit(f"table: {model} or {model}_st is not decoded in {args.mode}")
        cells = [f"{level['wer']:.1f}" for level in scores[model]["levels"]]
        change, low, high = relative_change_interval(before.per_set, after.per_set)
        cells += [
            f"{average_wer(before.per_set):.1f}",
            f"{average_wer(after.per_set):.1f}",
            f"{change:+.1f}% [{low:+.1f}, {high:+.1f}]",
        ]
        clean = [r.per_set.get("test_clean") for r in (before, after)]
        cells += [f"{errors.wer:.1f}" if errors else "" for errors in clean]
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    lines += confidence_table(scores, fractions)
    lines += wall_time_lines(args.exp_dir / "stage_times.tsv", args.models)
    write_text_atomically(args.output, "\n".join(lines) + "\n")
    print("\n".join(lines))


def confidence_table(scores: Dict[str, Dict], fractions: List[float]) -> List[str]:
    """Pseudo-label WER per model, confidence measure and filtering level."""
    lines = [
        "",
        "Pseudo-label WER (%) of the most confident share by each confidence measure of "
        "`bin/pseudo_label` (the filter is `--confidence`, here "
        f"`{next(iter(scores.values()))['confidence']}`); *{ORACLE}* keeps the utterances "
        "of lowest true WER first: the reference a perfect confidence would reach.",
        "",
        "| model | confidence | " + " | ".join(f"top {f:.0%}" for f in fractions) + " |",
        "|---|---|" + "---:|" * len(fractions),
    ]
    for model, result in scores.items():
        for measure, levels in result["by_confidence"].items():
            cells = " | ".join(f"{level['wer']:.1f}" for level in levels)
            lines.append(f"| {model} | {measure} | {cells} |")
    return lines


def wall_time_lines(stage_times: Path, models: List[str]) -> List[str]:
    """Stage 12's wall time per step, summed over the run.sh invocations that ran it."""
    spent: Dict[str, int] = defaultdict(int)
    for time in read_stage_times(stage_times):
        spent[time.step] += time.seconds
    parts = [f"pool synthesis {format_duration(spent[POOL_STEP])}"]
    total = spent[POOL_STEP]
    for model in models:
        steps = {
            "pseudo-labelling": f"pseudo_label_{model}",
            "retraining": f"train_{model}_st",
            "decoding": f"decode_{model}_st",
        }
        total += sum(spent[step] for step in steps.values())
        part = ", ".join(f"{what} {format_duration(spent[step])}" for what, step in steps.items())
        parts.append(f"{model}: {part}")
    return [
        "",
        f"Wall time of the self-training stage ({machine_description()}; `{stage_times}`, "
        "summed over the run.sh invocations that ran each step): "
        + "; ".join(parts)
        + f"; total {format_duration(total)}.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    actions = parser.add_subparsers(dest="action", required=True)
    scoring = actions.add_parser("score", help="pseudo-label WER per filtering level")
    scoring.add_argument("--work_dir", type=Path, required=True, help="bin/pseudo_label's")
    scoring.add_argument("--truth", type=Path, required=True, help="the pool's Kaldi text")
    scoring.add_argument("--confidence", default="both", help="bin/pseudo_label --confidence")
    scoring.add_argument("--keep_fractions", type=float, nargs="+", default=[1.0, 0.8, 0.5])
    scoring.add_argument("--output", type=Path, required=True)
    joining = actions.add_parser("combine", help="join Kaldi data dirs")
    joining.add_argument("--output", type=Path, required=True)
    joining.add_argument("inputs", type=Path, nargs="+")
    table = actions.add_parser("table", help="the self-training section of RESULTS.md")
    table.add_argument("--exp_dir", type=Path, required=True)
    table.add_argument("--data_dir", type=Path, required=True)
    table.add_argument("--models", nargs="+", required=True)
    table.add_argument("--test_sets", nargs="+", required=True)
    table.add_argument("--mode", default="ctc_lexicon_lm")
    table.add_argument("--command", default="./run.sh --self_train true")
    table.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    {"score": score_pseudo_labels, "combine": combine, "table": write_table}[args.action](args)


if __name__ == "__main__":
    main()
