import duckdb
import numpy as np
import pandas as pd
import pytest

from ml.drift import DriftThresholds, build_reference, population_stability, psi
from ml.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from ml.scoring import ensure_predictions


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


def test_a_flag_gets_a_bin_per_value():
    """A flag that is mostly 1 has every decile at 1: binned at deciles, a register that
    stopped matching (has_plane_record false everywhere) measured PSI 0."""
    rng = np.random.default_rng(3)
    frame = _frame(rng, 10_000).assign(has_plane_record=(rng.random(10_000) < 0.95) * 1.0)
    reference = build_reference(frame)
    assert reference["has_plane_record"]["edges"] == [-np.inf, 0.5, np.inf]
    lost = _frame(rng, 2_000).assign(has_plane_record=0.0)
    assert population_stability(reference, lost)["has_plane_record"] > 0.25
    # A flag that is always 1 in the reference: its one value is a bin of its own too.
    always = build_reference(frame.assign(has_plane_record=1.0))
    assert population_stability(always, lost)["has_plane_record"] > 0.25
    assert (
        population_stability(always, lost.assign(has_plane_record=1.0))["has_plane_record"] < 0.01
    )


def test_thresholds_classify_psi():
    thresholds = DriftThresholds(warn=0.1, alert=0.25)
    assert [thresholds.status(v) for v in (0.05, 0.2, 0.3)] == ["ok", "warn", "alert"]


def test_only_population_columns_alert_and_only_on_a_shift_against_both_references():
    judge = DriftThresholds(warn=0.1, alert=0.25).judge
    assert judge("carrier", 0.6, 0.4) == "alert"
    assert judge("carrier", 0.6, 0.15) == "warn"
    # New to the model but not since last month (the season, a change it already met): ok.
    assert judge("carrier", 0.6, 0.05) == "ok"
    assert judge("carrier", 0.6, float("nan")) == "alert"  # no month before: training only
    for watched in ("day_of_week", "origin_delay_rate_28d", "forecast_temperature_f", "score"):
        assert judge(watched, 16.0, 12.0) == "watch"


def test_trailing_windows_from_daily_counts_match_the_windows_binned_whole(monkeypatch):
    """drift_for_days sums per-day bin counts: the same PSI as binning each window's rows,
    with the model's own scores: from ml.predictions where it served them, else scored."""
    import ml.drift as drift

    rng = np.random.default_rng(2)
    reference = build_reference(_frame(rng, 20_000), scores=rng.random(20_000))
    days = pd.date_range("2013-10-01", "2013-10-20").date
    frame = _frame(rng, 8_000, hour_shift=1.5).assign(
        flight_date=rng.choice(days[2:], size=8_000)  # the first two days have no flights
    )
    frame = frame[~((frame.flight_date == days[9]) & (frame.carrier == "UA"))]
    frame = frame.assign(flight_id=[f"f{i}" for i in range(len(frame))])
    scores = rng.random(len(frame))
    by_flight = dict(zip(frame.flight_id, scores, strict=True))

    # The model scored (ml.predictions) the days from days[8]; the earlier ones it did not,
    # and another model's scores of the same flights must not be taken for its own.
    con = duckdb.connect()
    ensure_predictions(con)
    scored = frame.flight_date >= days[8]
    for version, values in (("m1", scores[scored]), ("m0", 1 - scores[scored])):
        con.register("served", frame[scored].assign(model_version=version, score=values))
        con.execute(
            "insert into ml.predictions (flight_id, flight_date, model_version, score, "
            "predicted_label, threshold, scored_at) select flight_id, flight_date, "
            "model_version, score, score >= 0.5, 0.5, now() from served"
        )
    asked = []

    class Model:
        model_version = "m1"

        def load(self):
            return self

        def predict_proba(self, features):
            asked.extend(frame.flight_date[features.index])
            values = frame.flight_id[features.index].map(by_flight).to_numpy()
            return np.column_stack([1 - values, values])

    monkeypatch.setattr(drift, "read_features_at_most", lambda *args: (frame.copy(), False))
    wanted = [str(day) for day in days[6:]]
    rows = drift.drift_for_days(
        con, Model(), wanted, DriftThresholds(), trailing_days=7, recent_days=5, reference=reference
    )
    assert asked and max(asked) < days[8]  # only the flights it had not scored

    for day in days[6:]:
        inside = (frame.flight_date >= day - pd.Timedelta(days=6)) & (frame.flight_date <= day)
        expected = population_stability(reference, frame[inside], scores[inside.to_numpy()])
        got = rows[rows.flight_date == day].set_index("feature")
        assert set(got.index) == set(expected)
        for name, value in expected.items():
            assert got.psi[name] == pytest.approx(value, rel=1e-12, abs=1e-12)
        assert (got.window_rows == inside.sum()).all()

        # The recent reference: the 5 days before the window, in the training bins.
        before = (frame.flight_date >= day - pd.Timedelta(days=11)) & (
            frame.flight_date < day - pd.Timedelta(days=6)
        )
        if not before.any():
            assert got.psi_recent.isna().all()
            continue
        recent = {
            name: {
                **spec,
                "expected": np.bincount(
                    drift._bin_index(
                        pd.Series(scores[before.to_numpy()])
                        if name == "score"
                        else frame[before][name].reset_index(drop=True),
                        spec,
                    ),
                    minlength=drift._bin_count(spec),
                ).tolist(),
            }
            for name, spec in reference.items()
        }
        expected = population_stability(recent, frame[inside], scores[inside.to_numpy()])
        for name, value in expected.items():
            assert got.psi_recent[name] == pytest.approx(value, rel=1e-12, abs=1e-12)
