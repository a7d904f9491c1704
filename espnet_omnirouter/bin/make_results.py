"""Score decoded test sets and write the recipe's results table (Markdown).

Usage:
    python -m espnet_omnirouter.bin.make_results --exp_dir exp --data_dir data \
        --models dense switch omni --test_sets test_clean test_noise ... \
        --decode_modes ctc_lexicon_lm ctc_greedy --output RESULTS.md

Reads <data_dir>/<set>/text (references), <exp_dir>/asr_<model>/decode/<mode>/<set>/text
(hypotheses, from bin/decode) and .../rtf, and <exp_dir>/asr_<model>/config.yaml (parameter
counts). One table per decoding mode; the first mode's table also gets the bootstrap
comparisons between models. Above the tables, the command (--command) and the date of
scoring; optional --header and --footer files are copied above and below all that. Also
writes each model's own <exp_dir>/asr_<model>/RESULTS.md (the header and its rows), which
bin/pack_model packs with the model. With --figures_dir, the routing and loss figures found
there (bin/plot_routing's) are shown below the tables, linked relative to --output.

With --espnet3, the experiments of an ESPnet3 recipe (egs3/espeak_en/asr1): model dirs
<exp_dir>/training_<model> (its training config conf/training_<model>.yaml), hypotheses
<model dir>/inference_<mode>/<set>/text.scp and the real-time factor from the
decode_seconds.scp and audio_seconds.scp beside it (espnet_omnirouter.espnet3's decoding
backend).
"""

import argparse
import json
import os
import platform
import sys
from pathlib import Path
from typing import Dict, List

import espnet_omnirouter  # noqa: F401
from espnet_omnirouter.scoring.results_table import (
    MODEL_PAIRS,
    ModelResult,
    comparison_lines,
    load_espnet3_result,
    load_result,
    scored_line,
    wer_table,
)
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.files import write_text_atomically
from espnet_omnirouter.utils.stage_times import format_duration, read_stage_times

MODE_DESCRIPTIONS = {
    "ctc_lexicon_lm": "CTC beam search over the training words with a word n-gram LM",
    "ctc_greedy": "CTC greedy search, no LM",
    "ctc_prefix_beam_search": "CTC prefix beam search, no LM",
    "attention_rescoring": "CTC prefix beam n-best rescored by the attention decoder(s)",
    "beam": "ESPnet beam search",
    "streaming": "audio fed chunk by chunk, CTC prefix beam search, attention rescoring",
}


def describe_mode(mode: str) -> str:
    """``chunk16/streaming`` -> its description, with the chunk size (bin/decode's
    --decoding_chunk_size, output under decode/chunk<N>/)."""
    *context, name = mode.split("/")
    description = MODE_DESCRIPTIONS.get(name, name)
    if context and context[0].startswith("chunk"):
        description += f"; attention chunks of {context[0][5:]} encoder frames"
    return description


# bin/plot_routing's figures, in the order a reader wants them, with what each shows.
FIGURES = (
    ("routing_association.png", "Association between the layers' expert choices (Cramér's V "
     "of every pair of layers): the Omni-router's shared router correlates them"),
    ("expert_load.png", "Share of frames per expert and layer"),
    ("reassignment.png", "WER with a share of the routing decisions reassigned at random"),
    ("loss_curves.png", "Training loss per update and validation loss per epoch"),
    ("routing_frames.png", "Expert per frame and layer of one utterance"),
    ("domain_association.png", "Association between test set and expert, per layer"),
)  # fmt: skip


def figures_lines(figures_dir: Path, output: Path) -> List[str]:
    """A section showing the figures of ``FIGURES`` present in ``figures_dir``, linked
    relative to the results file ``output`` (none present: no section)."""
    present = [(name, caption) for name, caption in FIGURES if (figures_dir / name).is_file()]
    if not present:
        return []
    relative = Path(os.path.relpath(figures_dir.resolve(), output.resolve().parent))
    lines = [
        "## Routing and training figures",
        "",
        f"Drawn by the routing stage (`python -m espnet_omnirouter.bin.plot_routing`) from the "
        f"models above; the numbers behind them: [{relative.as_posix()}/routing_summary.md]"
        f"({(relative / 'routing_summary.md').as_posix()}).",
        "",
    ]
    for name, caption in present:
        lines += [f"{caption}:", "", f"![{Path(name).stem}]({(relative / name).as_posix()})", ""]
    return lines


def machine_description() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    names = [
        line.split(":", 1)[1].strip()
        for line in (cpuinfo.read_text().splitlines() if cpuinfo.exists() else [])
        if line.startswith("model name")
    ]
    return f"{names[0] if names else platform.processor()}, {os.cpu_count()} cores, no GPU"


def stage_times_table(path: Path) -> List[str]:
    """Wall time per stage from run.sh's stage_times.tsv."""
    lines = ["| stage | step | wall time |", "|---|---|---:|"]
    times = read_stage_times(path)
    for time in times:
        lines.append(f"| {time.stage} | {time.step} | {format_duration(time.seconds)} |")
    total = format_duration(sum(time.seconds for time in times))
    lines.append(f"| | **total** | **{total}** |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exp_dir", type=Path, required=True)
    parser.add_argument("--data_dir", type=Path, required=True)
    parser.add_argument("--models", nargs="+", required=True)
    parser.add_argument("--test_sets", nargs="+", required=True)
    parser.add_argument("--decode_modes", nargs="+", default=["ctc_greedy"])
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--header", type=Path)
    parser.add_argument("--footer", type=Path, action="append", default=[],
                        help="copied below the tables (repeatable, in order)")  # fmt: skip
    parser.add_argument("--bootstrap_samples", type=int, default=1000)
    parser.add_argument("--stage_times", type=Path, help="run.sh's stage_times.tsv")
    parser.add_argument("--command", help="the command that produced the results")
    parser.add_argument("--espnet3", action="store_true", help="an ESPnet3 recipe's exp dir")
    parser.add_argument("--figures_dir", type=Path, help="bin/plot_routing's figures to show")
    args = parser.parse_args()
    setup_cli_logging()
    model_dir = {
        model: args.exp_dir / (f"training_{model}" if args.espnet3 else f"asr_{model}")
        for model in args.models
    }
    # Per mode, the models decoded that way (CTC models and U2++ models have their own modes).
    results_by_mode = {}
    for mode in args.decode_modes:
        results = [
            load_espnet3_result(
                model_dir[model], args.data_dir, args.test_sets, f"inference_{mode}", model
            )
            if args.espnet3
            else load_result(model_dir[model], args.data_dir, args.test_sets, mode, model)
            for model in args.models
        ]
        if any(results):
            results_by_mode[mode] = [result for result in results if result]
    decoded = {result.name for results in results_by_mode.values() for result in results}
    undecoded = [model for model in args.models if model not in decoded]
    if not results_by_mode or undecoded:
        sys.exit(
            f"make_results: no decoding of {undecoded or args.models} in the modes "
            f"{args.decode_modes} under {args.exp_dir}: run the decoding stage first"
        )
    intro = [scored_line(args.command), ""]
    footer = lm_tuning_lines(args.exp_dir, args.models) + [f"Machine: {machine_description()}"]
    header = [args.header.read_text().rstrip()] if args.header else []
    body = intro + tables(results_by_mode, args.test_sets, args.bootstrap_samples) + footer
    if args.stage_times and args.stage_times.is_file():
        body += ["", "Wall time per stage:", "", *stage_times_table(args.stage_times)]
    figures = figures_lines(args.figures_dir, args.output) if args.figures_dir else []
    trailer = ["\n".join(figures).rstrip()] if figures else []
    trailer += [footer.read_text().rstrip() for footer in args.footer]
    write_text_atomically(args.output, "\n\n".join([*header, "\n".join(body), *trailer]) + "\n")
    print("\n".join(body))
    # Each experiment's own RESULTS.md (ESPnet's convention; packed with the model).
    for model in args.models:
        own = {
            mode: [r for r in results if r.name == model]
            for mode, results in results_by_mode.items()
            if any(r.name == model for r in results)
        }
        own_body = intro + tables(own, args.test_sets, bootstrap_samples=0) + footer
        text = "\n\n".join([*header, "\n".join(own_body)]) + "\n"
        write_text_atomically(model_dir[model] / "RESULTS.md", text)


def lm_tuning_lines(exp_dir: Path, models: List[str]) -> List[str]:
    """Where bin/decode tuned ctc_lexicon_lm on a held-out set: the chosen weights."""
    chosen = []
    for model in models:
        path = exp_dir / f"asr_{model}" / "decode" / "lm_tuning.json"
        if path.is_file():
            tuning = json.loads(path.read_text())
            chosen.append(
                f"{model} {tuning['lm_weight']:g} / {tuning['word_score']:g} "
                f"({Path(tuning['tune_set']).name} WER {tuning['wer']:.1f}%)"
            )
    if not chosen:
        return []
    return [
        "`ctc_lexicon_lm` LM weight / word score chosen on the held-out set: " + ", ".join(chosen),
        "",
    ]


def tables(
    results_by_mode: Dict[str, List[ModelResult]], test_sets: List[str], bootstrap_samples: int
) -> List[str]:
    """One WER table per decoding mode; the first mode in which a pair of ``MODEL_PAIRS``
    appears also gets its bootstrap comparison (none if ``bootstrap_samples`` is 0)."""
    lines, compared = [], set()
    for mode, results in results_by_mode.items():
        lines += [
            f"### Decoding: `{mode}` ({describe_mode(mode)})",
            "",
            "WER (%) per test set, macro average over the test sets, and decoding real-time",
            "factor (one CPU job, encoder included).",
            "",
            wer_table(results, test_sets),
            "",
        ]
        names = {result.name for result in results}
        pairs = [p for p in MODEL_PAIRS if set(p) <= names and p not in compared]
        if bootstrap_samples and pairs:
            compared.update(pairs)
            lines += [
                "Relative change of the average WER, paired bootstrap over utterances "
                f"({bootstrap_samples} resamples):",
                "",
                *comparison_lines(results, pairs, bootstrap_samples),
                "",
            ]
    return lines


if __name__ == "__main__":
    main()
