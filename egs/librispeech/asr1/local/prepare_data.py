"""Kaldi data dirs of the LibriSpeech parts the recipe uses: lhotse manifests written as
``<data_dir>/raw/<set>``, then formatted for training as ``<data_dir>/<set>`` (what
``bin/format_data_dir`` does, in this process: LibriSpeech's 16 kHz mono flac files are
named in place, nothing is copied).

Usage: python local/prepare_data.py --data_root DIR --data_dir data --nj 4 SET ...

SET is one of the names in ``SETS`` (``train_960`` = the three training parts, ``dev`` =
dev-clean + dev-other, ESPnet's validation set).
"""

import argparse
import sys
from pathlib import Path

from espnet_omnirouter.corpora.librispeech import TRAIN_SETS, data_dir_name, prepare_sets
from espnet_omnirouter.corpora.registry import CorpusError
from espnet_omnirouter.data.format_data_dir import format_data_dir
from espnet_omnirouter.data.validation import InputDataError

SAMPLE_RATE = 16000
SETS = {
    "train_clean_100": TRAIN_SETS["100"],
    "train_960": TRAIN_SETS["960"],
    "dev": ("dev-clean", "dev-other"),
    **{
        data_dir_name(part): (part,)
        for part in ("dev-clean", "dev-other", "test-clean", "test-other")
    },
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", choices=sorted(SETS))
    parser.add_argument("--data_root", type=Path, required=True, help="holds LibriSpeech/")
    parser.add_argument("--data_dir", type=Path, required=True)
    parser.add_argument("--nj", type=int, default=1, help="parallel jobs")
    args = parser.parse_args()
    try:
        raw = prepare_sets(
            args.data_root, {name: SETS[name] for name in args.sets}, args.data_dir / "raw", args.nj
        )
        for name, source in raw.items():
            count = format_data_dir(source, args.data_dir / name, SAMPLE_RATE, args.nj)
            print(f"[format] {args.data_dir / name}: {count} utterances at {SAMPLE_RATE} Hz")
    except (CorpusError, InputDataError, OSError) as error:
        sys.exit(f"prepare_data: {error}")


if __name__ == "__main__":
    main()
