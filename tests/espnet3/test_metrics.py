"""The package's WER as an ESPnet3 metric (skipped without ESPnet3)."""

import pytest

# ESPnet3's package, not this directory (tests/ is on sys.path, and without ESPnet3
# installed "espnet3" would name tests/espnet3 as a namespace package).
pytest.importorskip("espnet3.systems")

from espnet_omnirouter.espnet3.metrics import WER  # noqa: E402
from espnet_omnirouter.scoring.wer import score  # noqa: E402

REFERENCES = ["Hello, world!", "it's a test", "one two three four"]
HYPOTHESES = ["hello world", "its a test", ""]


def test_counts_as_the_results_tables_do():
    metric = WER()
    metric.update(ref=REFERENCES[:2], hyp=HYPOTHESES[:2])
    metric.update(ref=REFERENCES[2:], hyp=HYPOTHESES[2:])  # chunks add up
    keys = range(len(REFERENCES))
    expected = score(dict(zip(keys, REFERENCES)), dict(zip(keys, HYPOTHESES)))
    # normalised: case and punctuation do not count; "its" for "it's" is one substitution,
    # the empty hypothesis four deletions: 5 errors over 9 words
    assert expected.wer == pytest.approx(100 * 5 / 9)
    assert metric.compute() == {"WER": round(expected.wer, 2)}


def test_no_reference_words_is_an_error():
    metric = WER()
    metric.update(ref=[""], hyp=["x"])
    with pytest.raises(ValueError, match="no words"):
        metric.compute()
