"""Prepare the out-of-domain benchmarks of every corpus given, as Kaldi data dirs.

Usage:
    python -m espnet_omnirouter.bin.prepare_benchmarks --output_dir data/raw --num_jobs 4 \
        --librispeech_root /data/librispeech --tedlium_root /data/TEDLIUM_release-3

One ``--<key>_root`` option per corpus (``--help`` lists them with what to obtain); the
benchmarks of corpora not given are skipped with a message. Each benchmark becomes
``<output_dir>/<name>`` (wav.scp, text, utt2spk, spk2utt, segments where the corpus cuts
utterances out of longer recordings). ``--list`` prints the benchmarks and exits.
"""

import argparse
import sys
from pathlib import Path

from espnet_omnirouter.corpora.registry import CorpusError, corpora
from espnet_omnirouter.data.validation import InputDataError
from espnet_omnirouter.utils.console import setup_cli_logging


def main() -> None:
    all_corpora = corpora()
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--output_dir", type=Path, help="one Kaldi dir per benchmark in it")
    parser.add_argument("--num_jobs", type=int, default=1)
    parser.add_argument("--list", action="store_true", help="print the benchmarks and exit")
    for corpus in all_corpora.values():
        parser.add_argument(
            f"--{corpus.key}_root", type=Path, metavar="DIR",
            help=f"{corpus.title}: {corpus.obtain}",
        )  # fmt: skip
    args = parser.parse_args()
    setup_cli_logging()
    if args.list:
        for corpus in all_corpora.values():
            for name, title in corpus.benchmarks:
                print(f"{name}\t{title}\t--{corpus.key}_root")
        return
    if args.output_dir is None:
        parser.error("--output_dir is required")
    given = {key: getattr(args, f"{key}_root") for key in all_corpora}
    if not any(given.values()):
        parser.error("no corpus given: pass at least one --<corpus>_root (see --help)")
    failed = 0
    for key, corpus in all_corpora.items():
        names = ", ".join(name for name, _ in corpus.benchmarks)
        if given[key] is None:
            print(f"[prepare] {names}: skipped (no --{key}_root)", flush=True)
            continue
        try:
            corpus.prepare(given[key], args.output_dir, args.num_jobs)
        except (CorpusError, InputDataError, OSError) as error:
            print(f"prepare_benchmarks: --{key}_root {given[key]}: {error}", file=sys.stderr)
            failed += 1
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
