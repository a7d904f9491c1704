"""The package's word error rate as an ESPnet3 metric (``measure`` stage)."""

from typing import Dict, Sequence

from espnet3.components.metrics.base_metric import BaseMetric
from espnet3.contract import Field

from espnet_omnirouter.scoring.wer import score


class WER(BaseMetric):
    """Word error rate (%) counted as the package's results tables count it: references
    and hypotheses through ``scoring.wer.normalize_text``, then substitutions, deletions
    and insertions over reference words (``scoring.wer.score``).

    ESPnet3's own ``WER`` applies ESPnet's text cleaners instead, which keep punctuation
    and case; this one gives the numbers of ``bin/make_results``.
    """

    inputs = (Field("ref", "text"), Field("hyp", "text"))
    outputs = (Field("WER", "number"),)

    def __init__(self) -> None:
        super().__init__()
        self.add_state("errors", 0.0, "sum")
        self.add_state("ref_words", 0.0, "sum")

    def update(self, *, ref: Sequence[str], hyp: Sequence[str]) -> None:
        """Add the word errors of aligned references and hypotheses."""
        keys = range(len(ref))
        counts = score(dict(zip(keys, ref)), dict(zip(keys, hyp)))
        self.errors += float(counts.errors.sum())
        self.ref_words += float(counts.ref_words.sum())

    def compute(self) -> Dict[str, float]:
        """``{"WER": percent}`` of everything added, rounded to 2 decimals.

        Raises:
            ValueError: the references have no words.
        """
        if not self.ref_words:
            raise ValueError("nothing to score: the references have no words")
        return {"WER": round(100.0 * self.errors / self.ref_words, 2)}
