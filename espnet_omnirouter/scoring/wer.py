"""Word error rates with one text normaliser applied to references and hypotheses."""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List

import jiwer
import numpy as np


def normalize_text(text: str) -> str:
    """Lower-case, drop punctuation except inner apostrophes, collapse whitespace.

    Hyphens become spaces ("re-use" -> "re use"), so both sides split words alike.
    """
    text = text.lower().replace("-", " ")
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    text = re.sub(r"(?<![a-z0-9])'|'(?![a-z0-9])", " ", text)
    return " ".join(text.split())


def read_kaldi_text(path: Path) -> Dict[str, str]:
    """``utt_id transcript`` lines into a dict (a missing transcript is empty)."""
    table = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        utt, _, text = line.partition(" ")
        if utt:
            table[utt] = text.strip()
    return table


@dataclass
class UtteranceErrors:
    """Per-utterance word errors and reference lengths, aligned by utterance id."""

    utt_ids: List[str]
    errors: np.ndarray
    ref_words: np.ndarray

    @property
    def wer(self) -> float:
        """Corpus WER in percent: all errors over all reference words."""
        return 100.0 * float(self.errors.sum()) / max(float(self.ref_words.sum()), 1.0)


def score(
    references: Dict[str, str],
    hypotheses: Dict[str, str],
    normalize: Callable[[str], str] = normalize_text,
) -> UtteranceErrors:
    """Word errors (substitutions + deletions + insertions) of every reference utterance,
    both sides normalised by ``normalize``.

    An utterance missing from the hypotheses counts as an empty hypothesis.
    """
    utt_ids = sorted(references)
    errors, ref_words = [], []
    for utt in utt_ids:
        reference = normalize(references[utt])
        hypothesis = normalize(hypotheses.get(utt, ""))
        words = len(reference.split())
        if not reference:
            errors.append(len(hypothesis.split()))
        elif not hypothesis:
            errors.append(words)
        else:
            out = jiwer.process_words(reference, hypothesis)
            errors.append(out.substitutions + out.deletions + out.insertions)
        ref_words.append(words)
    return UtteranceErrors(utt_ids, np.array(errors, float), np.array(ref_words, float))
