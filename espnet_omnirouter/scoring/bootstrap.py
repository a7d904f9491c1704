"""Paired bootstrap confidence interval of a relative change in average WER."""

from typing import Dict, Sequence, Tuple

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


def seeds_and_utterances_interval(
    baseline_runs: Sequence[Dict[str, UtteranceErrors]],
    system_runs: Sequence[Dict[str, UtteranceErrors]],
    num_samples: int = 2000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Tuple[float, float, float]:
    """Relative change of the seed-mean average WER, with an interval that covers both
    training randomness and the choice of test sentences.

    Each resample draws, with replacement, the training runs (seeds) of each system
    independently and the utterances of each test set (the same ones for both systems,
    whose runs all scored the same utterances); each system's average WER is then the mean
    over its drawn runs of the macro average over sets. With one run per system this is
    ``relative_change_interval``'s utterance bootstrap.

    Returns:
        (change, low, high) in percent; negative means the system is better.
    """
    for run in [*baseline_runs, *system_runs]:
        for name, errors in baseline_runs[0].items():
            if run[name].utt_ids != errors.utt_ids:
                raise ValueError(f"test set {name}: the runs scored different utterances")
    rng = np.random.default_rng(seed)
    samples = np.arange(num_samples)[:, None]
    # Per resample, which runs of each system are drawn: (num_samples, runs).
    base_picks = rng.integers(0, len(baseline_runs), size=(num_samples, len(baseline_runs)))
    system_picks = rng.integers(0, len(system_runs), size=(num_samples, len(system_runs)))
    base_average = np.zeros(num_samples)
    system_average = np.zeros(num_samples)
    for name, reference in baseline_runs[0].items():
        picks = rng.integers(0, len(reference.utt_ids), size=(num_samples, len(reference.utt_ids)))
        words = reference.ref_words[picks].sum(axis=1)
        for runs, run_picks, average in (
            (baseline_runs, base_picks, base_average),
            (system_runs, system_picks, system_average),
        ):
            # WER of every run on every resample's utterances: (runs, num_samples).
            wers = np.stack([run[name].errors[picks].sum(axis=1) / words for run in runs])
            average += wers[run_picks, samples].mean(axis=1)
    changes = 100.0 * (system_average - base_average) / base_average
    base_mean = np.mean([average_wer(run) for run in baseline_runs])
    system_mean = np.mean([average_wer(run) for run in system_runs])
    change = 100.0 * (system_mean - base_mean) / base_mean
    tail = 100.0 * (1 - confidence) / 2
    low, high = np.percentile(changes, [tail, 100.0 - tail])
    return float(change), float(low), float(high)
