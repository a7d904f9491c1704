"""The out-of-domain benchmarks of the Omni-router paper and the corpora that provide them.

Each corpus module (``espnet_omnirouter/corpora/<module>.py``) defines ``CORPUS``, a
``Corpus``; ``corpora()`` loads them all. The recipes take one ``--<key>_root`` option per
corpus and prepare the benchmarks of the corpora they are given.
"""

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, Tuple

from espnet_omnirouter.utils.extras import import_optional

# Modules defining a CORPUS, in the order of the results table.
CORPUS_MODULES = (
    "ami", "chime6", "commonvoice", "fleurs", "eval2000", "librispeech", "wsj", "tedlium",
    "voxpopuli",
)  # fmt: skip


@dataclass(frozen=True)
class Corpus:
    """A corpus as its publisher distributes it, and how to prepare its benchmark sets.

    Attributes:
        key: Option stem: recipes take ``--<key>_root DIR``.
        title: Name of the corpus.
        obtain: What the user must obtain and which directory to pass (publisher,
            catalogue number, parts).
        benchmarks: ``(data dir name, column title)`` of each set ``prepare`` writes, e.g.
            ``(("librispeech_test_clean", "LS clean"), ("librispeech_test_other", "LS other"))``.
        prepare: ``prepare(corpus_root, output_dir, num_jobs) -> {data dir name: dir}``:
            reads the corpus (with its lhotse recipe where lhotse has one) and writes one
            Kaldi data dir per benchmark under ``output_dir`` (``kaldi_export.write_kaldi_dir``).
            Raises ``CorpusError`` naming what is missing from ``corpus_root``.
    """

    key: str
    title: str
    obtain: str
    benchmarks: Tuple[Tuple[str, str], ...]
    prepare: Callable[[Path, Path, int], Dict[str, Path]]


class CorpusError(ValueError):
    """A corpus directory does not hold what its preparation needs (the message says what)."""


def corpora() -> Dict[str, Corpus]:
    """Every corpus, by key, in table order."""
    import_optional("lhotse", "preparing real corpora")
    loaded = [importlib.import_module(f"{__package__}.{name}").CORPUS for name in CORPUS_MODULES]
    return {corpus.key: corpus for corpus in loaded}


def benchmark_titles() -> Dict[str, str]:
    """Data dir name -> column title, of every benchmark, in table order."""
    return {name: title for corpus in corpora().values() for name, title in corpus.benchmarks}
