import numpy as np
import pandas as pd
import pytest

from ml.drift import DriftThresholds, build_reference, population_stability, psi
from ml.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES


def _frame(rng, rows, hour_shift=0.0, carriers=("AA", "B6", "UA")):
    frame = pd.DataFrame({name: rng.normal(size=rows) for name in NUMERIC_FEATURES})
    frame["scheduled_departure_hour"] = rng.integers(5, 23, size=rows) + hour_shift
    frame["plane_age_years"] = np.where(rng.random(rows) < 0.1, np.nan, rng.integers(0, 30, rows))
    frame["carrier"] = rng.choice(list(carriers), size=rows)
    frame["origin"] = rng.choice(["EWR", "JFK", "LGA"], size=rows)
    frame["dest"] = rng.choice(["ATL", "LAX", "ORD", "MIA"], size=rows)
    return frame


def test_psi_is_zero_for_the_same_distribution_and_grows_with_the_shift():
    assert psi([10, 20, 70], [10, 20, 70]) == pytest.approx(0.0)
    small, large = psi([50, 50], [45, 55]), psi([50, 50], [10, 90])
    assert 0 < small < 0.1 < 0.25 < large


def test_a_sample_of_the_reference_is_stable_and_a_shifted_one_is_not():
    rng = np.random.default_rng(0)
    reference = build_reference(_frame(rng, 50_000), scores=rng.random(50_000))

    same = population_stability(reference, _frame(rng, 5_000), scores=rng.random(5_000))
    assert max(same.values()) < 0.1

    shifted = _frame(rng, 5_000, hour_shift=6, carriers=("WN",))
    drifted = population_stability(reference, shifted, scores=rng.random(5_000) ** 3)
    assert drifted["scheduled_departure_hour"] > 0.25
    assert drifted["carrier"] > 0.25  # an unseen carrier lands in "other"
    assert drifted["score"] > 0.25
    assert drifted["origin"] < 0.1


def test_every_feature_is_monitored_and_missing_is_a_bin():
    rng = np.random.default_rng(1)
    reference = build_reference(_frame(rng, 10_000))
    assert set(reference) == set(CATEGORICAL_FEATURES) | set(NUMERIC_FEATURES)
    no_ages = _frame(rng, 2_000).assign(plane_age_years=np.nan)
    assert population_stability(reference, no_ages)["plane_age_years"] > 0.25


def test_thresholds_classify_psi():
    thresholds = DriftThresholds(warn=0.1, alert=0.25)
    assert [thresholds.status(v) for v in (0.05, 0.2, 0.3)] == ["ok", "warn", "alert"]
