"""Mozilla Common Voice (Ardila et al., LREC 2020), English: the test split, read with
lhotse's ``prepare_commonvoice``.

The clips are MP3. wav.scp names them as they are: soundfile reads MP3 from libsndfile 1.1
on (soundfile >= 0.12 wheels bundle it), which is what lhotse and the format stage use; sox
reads MP3 only with Debian's ``libsox-fmt-mp3``, so no ``sox ... |`` pipe is written.
"""

import csv
from pathlib import Path
from typing import Dict

from lhotse.recipes import prepare_commonvoice

from espnet_omnirouter.corpora.kaldi_export import write_kaldi_dir
from espnet_omnirouter.corpora.registry import Corpus, CorpusError

BENCHMARK = "commonvoice_test"
# The test.tsv columns lhotse reads (``variant`` appeared in Common Voice 13.0).
COLUMNS = ("client_id", "path", "sentence", "age", "gender", "accents", "variant")


def check_corpus(corpus_root: Path) -> None:
    """Raise ``CorpusError`` unless ``corpus_root/en`` has test.tsv with the columns lhotse
    reads and every clip it lists."""
    english = corpus_root / "en"
    tsv = english / "test.tsv"
    if not tsv.is_file():
        raise CorpusError(
            f"--commonvoice_root {corpus_root}: no en/test.tsv found (pass the "
            "cv-corpus-<version> directory that holds en/)"
        )
    with tsv.open(newline="") as file:
        # Common Voice quotes nothing; sentences may hold unbalanced quotes (as lhotse reads).
        rows = csv.DictReader(file, delimiter="\t", quoting=csv.QUOTE_NONE)
        absent = [column for column in COLUMNS if column not in (rows.fieldnames or ())]
        if absent:
            raise CorpusError(
                f"--commonvoice_root {corpus_root}: en/test.tsv has no column "
                f"{', '.join(absent)} (Common Voice 13.0 or later is needed)"
            )
        missing = [row["path"] for row in rows if not (english / "clips" / row["path"]).is_file()]
    if missing:
        raise CorpusError(
            f"--commonvoice_root {corpus_root}: {len(missing)} clips of en/test.tsv are missing "
            f"from en/clips/, e.g. en/clips/{missing[0]}"
        )


def prepare(corpus_root: Path, output_dir: Path, num_jobs: int) -> Dict[str, Path]:
    """Write ``output_dir/commonvoice_test`` from ``corpus_root`` (``cv-corpus-<version>``);
    lhotse's manifests go to ``output_dir/manifests``."""
    corpus_root, output_dir = Path(corpus_root), Path(output_dir)
    check_corpus(corpus_root)
    manifests = prepare_commonvoice(
        corpus_root,
        output_dir / "manifests",
        languages="en",
        splits=("test",),
        num_jobs=num_jobs,
    )["en"]["test"]
    output = output_dir / BENCHMARK
    write_kaldi_dir(manifests["recordings"], manifests["supervisions"], output)
    return {BENCHMARK: output}


CORPUS = Corpus(
    key="commonvoice",
    title="Common Voice (English)",
    obtain=(
        "Mozilla Common Voice, English (CC0 1.0): the en archive of a Common Voice release "
        "(13.0 or later) from https://commonvoice.mozilla.org/en/datasets. Pass the unpacked "
        "cv-corpus-<version> directory (the one holding en/); en/test.tsv and the MP3 clips "
        "it lists under en/clips/ are read. MP3 is decoded by soundfile (libsndfile >= 1.1)."
    ),
    benchmarks=((BENCHMARK, "CommonVoice"),),
    prepare=prepare,
)
