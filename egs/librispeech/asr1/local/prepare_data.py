"""Kaldi data dirs of the LibriSpeech parts the recipe uses (lhotse, in place flac).

Usage: python local/prepare_data.py --data_root DIR --output_dir data/raw --nj 4 SET ...

SET is one of the names in ``SETS`` (``train_960`` = the three training parts, ``dev`` =
dev-clean + dev-other, ESPnet's validation set); each becomes ``<output_dir>/<SET>``.
"""

import argparse
import sys
from pathlib import Path

from espnet_omnirouter.corpora.librispeech import TRAIN_SETS, data_dir_name, prepare_sets
from espnet_omnirouter.corpora.registry import CorpusError
from espnet_omnirouter.data.validation import InputDataError

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
    parser.add_argument("--output_dir", type=Path, required=True)
    parser.add_argument("--nj", type=int, default=1, help="threads reading audio headers")
    args = parser.parse_args()
    try:
        prepare_sets(
            args.data_root, {name: SETS[name] for name in args.sets}, args.output_dir, args.nj
        )
    except (CorpusError, InputDataError) as error:
        sys.exit(f"prepare_data: {error}")


if __name__ == "__main__":
    main()
