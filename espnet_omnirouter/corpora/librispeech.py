"""LibriSpeech (Panayotov et al., ICASSP 2015), read with lhotse's ``prepare_librispeech``:
the test-clean and test-other benchmarks, and the training and dev parts the LibriSpeech
recipe (``egs/librispeech/asr1``) trains on.

The corpus is laid out as distributed by OpenSLR (resource 12): ``LibriSpeech/<part>/
<speaker>/<chapter>/<speaker>-<chapter>-<nnnn>.flac`` with one ``<speaker>-<chapter>.trans.txt``
per chapter. The flac files are 16 kHz mono, one per utterance, so wav.scp names them in
place (no segments, nothing converted). Transcripts are kept as published (upper case).
"""

from pathlib import Path
from typing import Dict, Mapping, Sequence, Tuple

from lhotse import RecordingSet, SupervisionSet
from lhotse.recipes import prepare_librispeech
from lhotse.recipes.librispeech import LIBRISPEECH

from espnet_omnirouter.corpora.kaldi_export import write_kaldi_dir
from espnet_omnirouter.corpora.registry import Corpus, CorpusError

PARTS = tuple(LIBRISPEECH)  # dev-clean, dev-other, test-clean, test-other, train-*
TRAIN_SETS = {
    "100": ("train-clean-100",),
    "960": ("train-clean-100", "train-clean-360", "train-other-500"),
}
BENCHMARKS = (("librispeech_test_clean", "LS clean"), ("librispeech_test_other", "LS other"))
_BENCHMARK_PARTS = {
    "librispeech_test_clean": ("test-clean",),
    "librispeech_test_other": ("test-other",),
}


def corpus_dir(corpus_root: Path) -> Path:
    """The ``LibriSpeech`` directory: ``corpus_root/LibriSpeech``, or ``corpus_root``
    itself when it holds the parts."""
    corpus_root = Path(corpus_root)
    if (corpus_root / "LibriSpeech").is_dir():
        return corpus_root / "LibriSpeech"
    if any((corpus_root / part).is_dir() for part in PARTS):
        return corpus_root
    raise CorpusError(
        f"{corpus_root}: no LibriSpeech/ directory and no LibriSpeech part in it (pass the "
        "directory the OpenSLR archives were unpacked in, which holds LibriSpeech/)"
    )


def data_dir_name(part: str) -> str:
    """Kaldi data dir name of a part: ``test-clean`` -> ``test_clean``."""
    return part.replace("-", "_")


def _part_dir(librispeech: Path, part: str) -> Path:
    if part not in PARTS:
        raise CorpusError(f"{part}: not a LibriSpeech part (parts: {', '.join(PARTS)})")
    part_dir = librispeech / part
    if not part_dir.is_dir():
        raise CorpusError(
            f"{part_dir}: missing (unpack {part}.tar.gz from https://www.openslr.org/12 "
            "next to the other parts)"
        )
    if next(part_dir.glob("*/*/*.trans.txt"), None) is None:
        raise CorpusError(f"{part_dir}: no <speaker>/<chapter>/*.trans.txt in it")
    return part_dir


def _read_part(librispeech: Path, part: str, num_jobs: int) -> Tuple[RecordingSet, SupervisionSet]:
    manifests = prepare_librispeech(librispeech, dataset_parts=[part], num_jobs=num_jobs)[part]
    if len(manifests["supervisions"]) == 0:
        raise CorpusError(f"{librispeech / part}: its transcripts name no existing .flac file")
    return manifests["recordings"], manifests["supervisions"]


def prepare_sets(
    corpus_root: Path, sets: Mapping[str, Sequence[str]], output_dir: Path, num_jobs: int = 1
) -> Dict[str, Path]:
    """Write one Kaldi data dir per entry of ``sets`` (data dir name -> the parts whose
    utterances it holds, e.g. ``{"dev": ["dev-clean", "dev-other"]}``) under ``output_dir``.

    Every part is read once (lhotse, ``num_jobs`` threads), whatever the number of sets
    it appears in. Returns ``{data dir name: directory}``. Raises ``CorpusError`` naming
    the first missing or empty part directory before anything is read or written.
    """
    librispeech = corpus_dir(corpus_root)
    for part in dict.fromkeys(part for parts in sets.values() for part in parts):
        _part_dir(librispeech, part)
    read: Dict[str, Tuple[RecordingSet, SupervisionSet]] = {}
    written = {}
    for name, parts in sets.items():
        for part in parts:
            if part not in read:
                read[part] = _read_part(librispeech, part, num_jobs)
        recordings = RecordingSet.from_recordings(r for part in parts for r in read[part][0])
        supervisions = SupervisionSet.from_segments(s for part in parts for s in read[part][1])
        written[name] = Path(output_dir) / name
        write_kaldi_dir(recordings, supervisions, written[name])
    return written


def prepare_parts(
    corpus_root: Path, parts: Sequence[str], output_dir: Path, num_jobs: int = 1
) -> Dict[str, Path]:
    """One Kaldi data dir per LibriSpeech part (``train-clean-100``, ``dev-other``, ...)
    in ``output_dir/<part with '_' for '-'>``; returns ``{part: directory}``."""
    written = prepare_sets(
        corpus_root, {data_dir_name(part): [part] for part in parts}, output_dir, num_jobs
    )
    return {part: written[data_dir_name(part)] for part in parts}


def prepare(corpus_root: Path, output_dir: Path, num_jobs: int) -> Dict[str, Path]:
    """The benchmarks: ``output_dir/librispeech_test_clean`` and ``.../librispeech_test_other``."""
    return prepare_sets(corpus_root, _BENCHMARK_PARTS, output_dir, num_jobs)


CORPUS = Corpus(
    key="librispeech",
    title="LibriSpeech",
    obtain=(
        "LibriSpeech (Panayotov et al. 2015, CC BY 4.0): test-clean.tar.gz and "
        "test-other.tar.gz from https://www.openslr.org/12 (346 MB and 328 MB; the training "
        "recipe egs/librispeech/asr1 also needs train-clean-100 and dev-clean/dev-other, or "
        "all three train parts). Unpack them into one directory and pass it (it then holds "
        "LibriSpeech/test-clean/...); LibriSpeech/ itself is accepted too."
    ),
    benchmarks=BENCHMARKS,
    prepare=prepare,
)
