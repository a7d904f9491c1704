import numpy as np
import pytest

from espnet_omnirouter.scoring.bootstrap import (
    average_wer,
    relative_change_interval,
    seeds_and_utterances_interval,
)
from espnet_omnirouter.scoring.wer import UtteranceErrors


def errors(values, words=10):
    ids = [f"u{i:03d}" for i in range(len(values))]
    return UtteranceErrors(ids, np.array(values, float), np.full(len(values), float(words)))


def test_average_is_the_macro_average_over_sets():
    per_set = {"a": errors([1, 1]), "b": errors([5, 5])}  # 10% and 50%
    assert average_wer(per_set) == pytest.approx(30.0)


def test_identical_systems_have_a_zero_width_interval():
    base = {"a": errors([1, 2, 3, 0])}
    assert relative_change_interval(base, base, 200) == (0.0, 0.0, 0.0)


def test_a_consistent_halving_is_significant():
    rng = np.random.default_rng(0)
    baseline_errors = rng.integers(2, 6, size=300) * 2
    base = {"a": errors(baseline_errors), "b": errors(baseline_errors[::-1])}
    system = {"a": errors(baseline_errors / 2), "b": errors(baseline_errors[::-1] / 2)}
    change, low, high = relative_change_interval(base, system, 500)
    assert change == pytest.approx(-50.0)
    assert low == pytest.approx(-50.0) and high == pytest.approx(-50.0)


def test_noise_gives_an_interval_around_zero():
    rng = np.random.default_rng(1)
    base = {"a": errors(rng.integers(0, 5, size=200))}
    system = {"a": errors(rng.permutation(base["a"].errors))}  # same errors, shuffled
    change, low, high = relative_change_interval(base, system, 1000)
    assert change == pytest.approx(0.0)
    assert low < 0 < high


def test_mismatched_utterances_are_rejected():
    with pytest.raises(ValueError, match="different utterances"):
        relative_change_interval({"a": errors([1, 2])}, {"a": errors([1, 2, 3])}, 10)


def test_one_run_each_is_the_utterance_bootstrap():
    rng = np.random.default_rng(2)
    base = {"a": errors(rng.integers(0, 6, size=150)), "b": errors(rng.integers(0, 3, size=80))}
    system = {name: errors(np.maximum(e.errors - 1, 0)) for name, e in base.items()}
    change, low, high = seeds_and_utterances_interval([base], [system], 2000)
    utterance_only = relative_change_interval(base, system, 2000)
    assert change == pytest.approx(utterance_only[0])
    assert low == pytest.approx(utterance_only[1], abs=1.5)
    assert high == pytest.approx(utterance_only[2], abs=1.5)
    assert high < 0


def test_seed_spread_widens_the_interval_and_can_remove_significance():
    """A system whose runs scatter around the baseline: each single run differs
    'significantly' from the baseline over utterances, but over seeds the difference is
    not significant."""
    rng = np.random.default_rng(3)
    base_errors = rng.integers(1, 6, size=300).astype(float)
    base = [{"a": errors(base_errors)} for _ in range(3)]
    factors = (0.8, 1.0, 1.2)  # one run better, one equal, one worse
    system = [{"a": errors(np.round(base_errors * f))} for f in factors]
    worse = relative_change_interval(base[0], system[2], 1000)
    assert worse[1] > 0  # one seed alone looks significantly worse
    change, low, high = seeds_and_utterances_interval(base, system, 2000)
    assert change == pytest.approx(0.0, abs=1.0)
    assert low < 0 < high
    assert high - low > worse[2] - worse[1]


def test_seed_bootstrap_rejects_runs_of_different_utterances():
    with pytest.raises(ValueError, match="different utterances"):
        seeds_and_utterances_interval([{"a": errors([1, 2])}], [{"a": errors([1, 2, 3])}], 10)
