"""Association between two categorical sequences (e.g. two layers' expert choices),
computed from their contingency table so that counts can be accumulated in a stream."""

import numpy as np


def contingency_table(a: np.ndarray, b: np.ndarray, num_a: int, num_b: int) -> np.ndarray:
    """(num_a, num_b) counts of the pairs (a[i], b[i]); ``a``, ``b``: (N,) ints."""
    pairs = np.bincount(a * num_b + b, minlength=num_a * num_b)
    return pairs.reshape(num_a, num_b)


def _drop_empty(table: np.ndarray) -> np.ndarray:
    return table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]


def cramers_v(table: np.ndarray) -> float:
    """Cramér's V of a contingency table: sqrt(chi² / (n · (min(r, c) - 1))), in [0, 1].

    0 for independent variables, 1 when one determines the other (e.g. a permutation of
    expert ids). Categories never observed are left out; with fewer than two observed
    categories on either side there is no variation to associate and V is 0.
    """
    table = _drop_empty(np.asarray(table, dtype=np.float64))
    n = table.sum()
    if n == 0 or min(table.shape) < 2:
        return 0.0
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = ((table - expected) ** 2 / expected).sum()
    return float(np.sqrt(chi2 / (n * (min(table.shape) - 1))))


def _entropy(counts: np.ndarray) -> float:
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def normalized_mutual_information(table: np.ndarray) -> float:
    """I(X; Y) / ((H(X) + H(Y)) / 2), in [0, 1] (scikit-learn's default normalisation).

    1 when one variable determines the other; 0 for independent ones. Two constant
    variables count as identical (1), one constant and one varying as unrelated (0).
    """
    table = np.asarray(table, dtype=np.float64)
    n = table.sum()
    if n == 0:
        return 0.0
    h_x, h_y = _entropy(table.sum(axis=1)), _entropy(table.sum(axis=0))
    if h_x == 0 and h_y == 0:
        return 1.0
    joint = table[table > 0] / n
    marginals = np.outer(table.sum(axis=1), table.sum(axis=0))[table > 0] / n**2
    mutual_information = float((joint * np.log(joint / marginals)).sum())
    return max(0.0, min(1.0, mutual_information / ((h_x + h_y) / 2)))
