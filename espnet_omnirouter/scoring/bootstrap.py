"""Paired bootstrap confidence interval of a relative change in average WER."""

from typing import Dict, Tuple

import numpy as np

from espnet_omnirouter.scoring.wer import UtteranceErrors


def average_wer(per_set: Dict[str, UtteranceErrors]) -> float:
    """Macro average over test sets of the corpus WER (the papers' headline metric)."""
    return float(np.mean([errors.wer for errors in per_set.values()]))


def relative_change_interval(
    baseline: Dict[str, UtteranceErrors],
    system: Dict[str, UtteranceErrors],
    num_samples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Tuple[float, float, float]:
    """Relative change of average WER (system vs baseline) and its bootstrap interval.

    Utterances are resampled with replacement within each test set, the same
    resample for both systems (paired), and the average over sets recomputed.

    Returns:
        (change, low, high) in percent; negative means the system is better.
    """
    rng = np.random.default_rng(seed)
    sample_base = np.zeros(num_samples)
    sample_system = np.zeros(num_samples)
    for name, base in baseline.items():
        other = system[name]
        if base.utt_ids != other.utt_ids:
            raise ValueError(f"test set {name}: the two systems scored different utterances")
        picks = rng.integers(0, len(base.utt_ids), size=(num_samples, len(base.utt_ids)))
        words = base.ref_words[picks].sum(axis=1)
        sample_base += base.errors[picks].sum(axis=1) / words
        sample_system += other.errors[picks].sum(axis=1) / words
    changes = 100.0 * (sample_system - sample_base) / sample_base
    change = 100.0 * (average_wer(system) - average_wer(baseline)) / average_wer(baseline)
    tail = 100.0 * (1 - confidence) / 2
    low, high = np.percentile(changes, [tail, 100.0 - tail])
    return change, float(low), float(high)
