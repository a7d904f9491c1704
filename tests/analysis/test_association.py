"""Association measures on choice sequences with known answers."""

import numpy as np
import pytest

from espnet_omnirouter.analysis.association import (
    contingency_table,
    cramers_v,
    normalized_mutual_information,
)

MEASURES = [cramers_v, normalized_mutual_information]


def test_contingency_table_counts_pairs():
    table = contingency_table(np.array([0, 0, 1, 2]), np.array([1, 1, 0, 1]), 3, 2)
    assert table.tolist() == [[0, 2], [1, 0], [0, 1]]


@pytest.mark.parametrize("measure", MEASURES)
def test_identical_choices_associate_fully(measure):
    choices = np.random.default_rng(0).integers(0, 4, 5000)
    assert measure(contingency_table(choices, choices, 4, 4)) == pytest.approx(1.0)


@pytest.mark.parametrize("measure", MEASURES)
def test_a_permutation_of_expert_ids_associates_fully(measure):
    choices = np.random.default_rng(1).integers(0, 4, 5000)
    permuted = np.array([2, 0, 3, 1])[choices]
    assert measure(contingency_table(choices, permuted, 4, 4)) == pytest.approx(1.0)


@pytest.mark.parametrize("measure", MEASURES)
def test_independent_uniform_choices_barely_associate(measure):
    rng = np.random.default_rng(2)
    a, b = rng.integers(0, 8, 50_000), rng.integers(0, 8, 50_000)
    assert measure(contingency_table(a, b, 8, 8)) < 0.03


def test_partial_dependence_lies_between():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 4, 20_000)
    b = np.where(rng.random(20_000) < 0.5, a, rng.integers(0, 4, 20_000))
    table = contingency_table(a, b, 4, 4)
    assert 0.3 < cramers_v(table) < 0.9 and 0.1 < normalized_mutual_information(table) < 0.9


def test_degenerate_tables():
    constant = np.zeros(100, int)
    varying = np.arange(100) % 4
    assert cramers_v(contingency_table(constant, varying, 4, 4)) == 0.0
    assert normalized_mutual_information(contingency_table(constant, varying, 4, 4)) == 0.0
    assert normalized_mutual_information(contingency_table(constant, constant, 4, 4)) == 1.0
    assert cramers_v(np.zeros((4, 4))) == 0.0
