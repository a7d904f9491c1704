"""Give every utterance of a Kaldi data dir its own audio file at one sample rate, mono.

Usage:
    python -m espnet_omnirouter.bin.format_data_dir data/raw/ami_ihm_test data/ami_ihm_test \
        --sample_rate 16000 --nj 4

The source wav.scp may list files or ``cmd |`` pipes, with an optional segments file;
the target lists one file per utterance (see ``data/format_data_dir.py``), validated and
written atomically. Audio files cut out of recordings go to ``<target>_audio/``.
"""

import argparse
import sys
from pathlib import Path

from espnet_omnirouter.data.format_data_dir import format_data_dir
from espnet_omnirouter.data.validation import InputDataError
from espnet_omnirouter.utils.console import setup_cli_logging


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--sample_rate", type=int, default=16000)
    parser.add_argument("--nj", type=int, default=1, help="parallel recordings")
    args = parser.parse_args()
    setup_cli_logging()
    try:
        count = format_data_dir(args.source, args.target, args.sample_rate, args.nj)
    except (InputDataError, OSError) as error:
        print(f"format_data_dir: {error}", file=sys.stderr)
        sys.exit(1)
    print(f"[format] {args.target}: {count} utterances at {args.sample_rate} Hz", flush=True)


if __name__ == "__main__":
    main()
