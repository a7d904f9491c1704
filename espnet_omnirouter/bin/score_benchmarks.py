"""Score models on the out-of-domain benchmarks: per-benchmark and average WER, the
Omni-router paper's table layout (Markdown).

Usage:
    python -m espnet_omnirouter.bin.score_benchmarks --data_dir data \
        --benchmarks ami_ihm_test librispeech_test_clean ... \
        --model exp/asr_dense:ctc_greedy --model exp/asr_omni --output RESULTS.md \
        --command "./run.sh --models ..."

References are <data_dir>/<benchmark>/text; hypotheses <model dir>/decode_ood/<mode>/
<benchmark>/text (bin/decode's layout; a --model without :MODE is scored in the first,
best, mode bin/decode chose for it, from decode_ood/decoding.json); both sides go through
Whisper's English text normaliser (scoring/english_normalizer.py). Benchmarks are titled
as in the paper (``prepare_benchmarks --list``); other test sets by their dir name. Models
are named by their dir without "asr_"; dense/switch/omni (and u2pp_dense/u2pp_moe) pairs
get bootstrap confidence intervals of the relative change of the average WER.
"""

import argparse
import json
import sys
from pathlib import Path

import espnet_omnirouter  # noqa: F401  (registers the plugin: parameter counts build models)
from espnet_omnirouter.corpora.registry import benchmark_titles
from espnet_omnirouter.scoring.english_normalizer import normalize_english
from espnet_omnirouter.scoring.results_table import (
    MODEL_PAIRS,
    comparison_lines,
    load_result,
    scored_line,
    wer_table,
)
from espnet_omnirouter.utils.console import setup_cli_logging
from espnet_omnirouter.utils.files import write_text_atomically

DECODE_DIR = "decode_ood"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data_dir", type=Path, required=True)
    parser.add_argument("--benchmarks", nargs="+", required=True)
    parser.add_argument(
        "--model", action="append", required=True, metavar="DIR[:MODE]",
        help="a model dir and the decoding mode to score (default: the first mode bin/decode "
        "wrote); repeatable",
    )  # fmt: skip
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--command", help="the command that produced the results")
    args = parser.parse_args()
    setup_cli_logging()
    titles = benchmark_titles()
    known = [name for name in titles if name in args.benchmarks]
    benchmarks = known + [name for name in args.benchmarks if name not in titles]
    results, missing, modes = [], [], []
    for spec in args.model:
        model_dir, _, mode = spec.rpartition(":") if ":" in spec else (spec, "", "")
        if not mode:
            decoding = Path(model_dir) / DECODE_DIR / "decoding.json"
            if not decoding.is_file():
                parser.error(f"--model {spec}: no {decoding}: decode it first or name a mode")
            mode = json.loads(decoding.read_text())["modes"][0]
        modes.append(mode)
        name = Path(model_dir).name.removeprefix("asr_")
        result = load_result(
            Path(model_dir), args.data_dir, benchmarks, mode, name, DECODE_DIR, normalize_english
        )
        if result is None:
            missing.append(f"{model_dir} ({mode})")
        else:
            results.append(result)
    if missing:
        print(f"score_benchmarks: not decoded on every benchmark: {missing}", file=sys.stderr)
        sys.exit(1)
    sizes = ", ".join(
        f"{titles.get(name, name)} {len(results[0].per_set[name].utt_ids)}" for name in benchmarks
    )
    lines = [
        "# Out-of-domain benchmarks",
        "",
        scored_line(args.command),
        "",
        "WER (%) per benchmark and their macro average, references and hypotheses normalised",
        "by Whisper's English text normaliser. Modes: "
        + ", ".join(modes)
        + f". Utterances: {sizes}.",
        "",
        wer_table(results, benchmarks, titles),
        "",
        *comparison_lines(results, MODEL_PAIRS),
    ]
    write_text_atomically(args.output, "\n".join(lines).rstrip() + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
