"""Every corpus module loads, benchmark names are unique, and the README lists each
benchmark with its option."""

from pathlib import Path

from espnet_omnirouter.corpora.registry import CORPUS_MODULES, benchmark_titles, corpora

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_module_defines_a_corpus_with_distinct_benchmarks():
    loaded = corpora()
    assert len(loaded) == len(CORPUS_MODULES)
    names = [name for corpus in loaded.values() for name, _ in corpus.benchmarks]
    assert len(names) == len(set(names)) == len(benchmark_titles()) == 11
    assert all(corpus.obtain and callable(corpus.prepare) for corpus in loaded.values())


def test_readme_lists_each_benchmark_and_its_option():
    rows = [line for line in README.read_text().splitlines() if line.startswith("| ")]
    for corpus in corpora().values():
        row = next((r for r in rows if f"`--{corpus.key}_root`" in r), None)
        assert row is not None, corpus.key
        assert all(title in row for _, title in corpus.benchmarks), (corpus.key, row)
