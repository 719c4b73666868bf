"""The F1-best threshold (ml/metrics.py): scikit-learn's F1 at each threshold, at once."""

import warnings

import numpy as np
import pytest
from sklearn.metrics import f1_score

from ml.metrics import THRESHOLDS, best_f1_threshold


def _one_by_one(y_true: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """As training chose until 2026-12-05: scikit-learn's f1_score at each threshold."""
    best = (0.5, -1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for threshold in THRESHOLDS:
            score = f1_score(np.asarray(y_true, dtype=int), scores >= threshold, zero_division=0)
            if score > best[1]:
                best = (float(threshold), float(score))
    return best


rng = np.random.default_rng(5)
LABELS = (rng.random(3000) < 0.2).astype(int)
CASES = {
    "scores": (LABELS, np.clip(0.2 * LABELS + rng.beta(2, 6, 3000), 0, 1)),
    "scores on the grid, ties": (LABELS, np.round(rng.random(3000), 2)),
    "no delays": (np.zeros(500, dtype=int), rng.random(500)),
    "all delayed": (np.ones(500, dtype=int), rng.random(500)),
    "every score below the grid": (LABELS[:500], rng.random(500) * 0.04),
    "labels as floats": (LABELS.astype(float), rng.random(3000)),
}


@pytest.mark.parametrize("case", CASES)
def test_the_threshold_and_its_f1_are_scikit_learns_to_the_last_bit(case):
    y_true, scores = CASES[case]
    assert best_f1_threshold(y_true, scores) == _one_by_one(y_true, scores)
