"""FLEURS (Conneau et al., SLT 2022), US English: the test split, read with lhotse's
``prepare_fleurs``.

lhotse reads the layout its own ``download_fleurs`` writes (through Hugging Face
``datasets``): ``<root>/en_us/{train,dev,test}/*.wav`` and
``<root>/metadata/en_us/{train,dev,test}.tsv``. Google publishes FLEURS on the Hugging Face
Hub as ``data/en_us/{split}.tsv`` and ``data/en_us/audio/{split}.tar.gz``; from that layout
the test tsv and the test wavs are staged under ``output_dir/manifests/fleurs`` in lhotse's
layout, and prepared from there.
"""

import logging
import shutil
import tarfile
from pathlib import Path
from typing import Dict, List

from lhotse.recipes import prepare_fleurs

from espnet_omnirouter.corpora.kaldi_export import write_kaldi_dir
from espnet_omnirouter.corpora.registry import Corpus, CorpusError

logger = logging.getLogger(__name__)

BENCHMARK = "fleurs_test"
LANGUAGE = "en_us"
SPLITS = ("train", "dev", "test")


def _tsv_files(tsv: Path) -> List[str]:
    """The audio file names of a FLEURS tsv (header-less: id, file name, raw transcription,
    transcription, characters, number of samples, gender)."""
    return [line.split("\t")[1] for line in tsv.read_text(encoding="utf-8").splitlines()]


def _missing_message(corpus_root: Path, missing: List[str]) -> str:
    more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
    return f"--fleurs_root {corpus_root}: missing {', '.join(missing[:3])}{more}"


def _check_lhotse_layout(corpus_root: Path) -> None:
    """Raise ``CorpusError`` unless ``corpus_root`` holds every tsv and wav lhotse reads."""
    missing = [f"metadata/{LANGUAGE}/{split}.tsv" for split in SPLITS]
    missing = [name for name in missing if not (corpus_root / name).is_file()]
    if not missing:
        for split in SPLITS:
            tsv = corpus_root / "metadata" / LANGUAGE / f"{split}.tsv"
            audio = corpus_root / LANGUAGE / split
            missing += [
                f"{LANGUAGE}/{split}/{name}"
                for name in _tsv_files(tsv)
                if not (audio / name).is_file()
            ]
    if missing:
        raise CorpusError(
            _missing_message(corpus_root, missing)
            + f" (pass a Hugging Face Hub copy of google/fleurs holding data/{LANGUAGE}/, "
            "or the fleurs directory lhotse's download_fleurs writes)"
        )


def _stage_hub_layout(hub: Path, staging: Path) -> Path:
    """Unpack the test wavs of the Hub layout under ``hub`` into lhotse's layout under
    ``staging``; like the Hub's own loader, rows without audio are left out (logged)."""
    shutil.rmtree(staging, ignore_errors=True)
    audio = staging / LANGUAGE / "test"
    metadata = staging / "metadata" / LANGUAGE
    audio.mkdir(parents=True)
    metadata.mkdir(parents=True)
    rows = (hub / "test.tsv").read_text(encoding="utf-8").splitlines()
    listed = {row.split("\t")[1] for row in rows}
    with tarfile.open(hub / "audio" / "test.tar.gz") as archive:
        for member in archive:
            name = Path(member.name).name
            if member.isfile() and name in listed:
                with archive.extractfile(member) as source, (audio / name).open("wb") as target:
                    shutil.copyfileobj(source, target)
    present = [row for row in rows if (audio / row.split("\t")[1]).is_file()]
    if not present:
        raise CorpusError(
            f"{hub}/audio/test.tar.gz holds none of the wavs listed in {hub}/test.tsv"
        )
    if len(present) < len(rows):
        logger.warning("%s: %d rows have no audio in audio/test.tar.gz", hub / "test.tsv",
                       len(rows) - len(present))  # fmt: skip
    # lhotse prepares all three splits and refuses an empty one; rather than unpacking the
    # Hub's train and dev audio, train and dev are staged as copies of test (and discarded).
    for split in SPLITS:
        (metadata / f"{split}.tsv").write_text("".join(f"{row}\n" for row in present))
    for split in ("train", "dev"):
        (staging / LANGUAGE / split).symlink_to("test")
    return staging


def prepare(corpus_root: Path, output_dir: Path, num_jobs: int) -> Dict[str, Path]:
    """Write ``output_dir/fleurs_test`` from ``corpus_root`` (lhotse's ``fleurs`` directory,
    or a Hub copy holding ``data/en_us``); lhotse's manifests go to ``output_dir/manifests``."""
    corpus_root, output_dir = Path(corpus_root), Path(output_dir)
    manifest_dir = output_dir / "manifests"
    hub = corpus_root / "data" / LANGUAGE
    if hub.is_dir():
        missing = [f"data/{LANGUAGE}/{name}" for name in ("test.tsv", "audio/test.tar.gz")]
        missing = [name for name in missing if not (corpus_root / name).is_file()]
        if missing:
            raise CorpusError(_missing_message(corpus_root, missing))
        root = _stage_hub_layout(hub, manifest_dir / "fleurs")
    else:
        _check_lhotse_layout(corpus_root)
        root = corpus_root
    manifests = prepare_fleurs(root, manifest_dir, languages=LANGUAGE, num_jobs=num_jobs)
    test = manifests[LANGUAGE]["test"]
    output = output_dir / BENCHMARK
    write_kaldi_dir(test["recordings"], test["supervisions"], output)
    return {BENCHMARK: output}


CORPUS = Corpus(
    key="fleurs",
    title="FLEURS (en_us)",
    obtain=(
        "FLEURS, US English (Google, CC BY 4.0): the Hugging Face Hub dataset google/fleurs "
        "(https://huggingface.co/datasets/google/fleurs): `huggingface-cli download "
        "google/fleurs data/en_us/test.tsv data/en_us/audio/test.tar.gz --repo-type dataset "
        "--local-dir DIR`; pass DIR (the test wavs are unpacked under the recipe's data "
        "dir, output_dir/manifests/fleurs). The directory lhotse's download_fleurs "
        "writes (en_us/, metadata/en_us/, all three splits) works too."
    ),
    benchmarks=((BENCHMARK, "FLEURS"),),
    prepare=prepare,
)
