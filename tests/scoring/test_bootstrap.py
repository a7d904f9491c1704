import numpy as np
import pytest

from espnet_omnirouter.scoring.bootstrap import average_wer, relative_change_interval
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
