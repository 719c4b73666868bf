"""The ML suites on real rows: real data passes, and what each gate exists for fails it."""

import duckdb
import pandas as pd

from ingest.quality import CRITICAL, WARNING, validate
from ingest.quality_sql import validate_sql
from ingest.warehouse import sql_path
from ml import expectations
from ml.features import LABEL, read_features
from ml.training import training_set
from ml.training_config import TrainingConfig


def _rows(settings):
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        train = training_set(con, TrainingConfig(cutoff=pd.Timestamp("2013-02-10").date()))
        features = read_features(con, "2013-02-01", "2013-02-07")
    finally:
        con.close()
    return train, features


def _scoring_gate(root, features, days):
    """The features suite as ready_to_score runs it: in DuckDB, rows against the usual day."""
    con = duckdb.connect()
    con.register("day_features", features)
    usual = features.groupby("_day").size().median()
    return validate_sql(root, expectations.FEATURES, con, "day_features", "_day", days, "1", usual)


def test_real_rows_pass_and_a_bad_training_set_is_refused(six_weeks, tmp_path):
    """In DuckDB (as the training pipeline's check runs it, uniqueness included) with the
    verdicts GX gives on the frame."""
    train, _ = _rows(six_weeks)
    skewed = train.copy()
    skewed[LABEL] = True  # every flight late: a broken label feed, not a bad month
    duplicated = pd.concat([train, train.head(50)])
    cases = ((train, None), (skewed, "is_delayed_mean"), (duplicated, "flight_id"))
    for number, (frame, expected) in enumerate(cases):
        path = tmp_path / f"training-{number}.parquet"  # the check reads the step's file
        frame.to_parquet(path, index=False)
        relation = f"read_parquet({sql_path(path)})"
        con = duckdb.connect()
        in_sql = validate_sql(tmp_path, expectations.TRAINING_SET, con, relation, None, ["all"])
        in_pandas = validate(tmp_path, expectations.TRAINING_SET, frame, None)
        assert sorted(
            (f.expectation, f.severity, f.unexpected, f.checked) for f in in_sql.failures
        ) == sorted(
            (f.expectation, f.severity, f.unexpected, f.checked) for f in in_pandas.failures
        )
        if expected is None:
            assert in_sql.severity_of("all") != CRITICAL
            continue
        assert in_sql.severity_of("all") == CRITICAL
        assert expected in in_sql.summary("all")
    # The 50 repeated flights fail twice each, as in GX: every row whose value another has.
    (unique,) = [f for f in in_sql.failures if "unique" in f.expectation]
    assert unique.unexpected == 100


def test_a_day_whose_forecast_is_missing_is_scored_with_a_warning(six_weeks, tmp_path):
    _, features = _rows(six_weeks)
    features["_day"] = features.flight_date.astype(str)
    days = sorted(features._day.unique())
    forecasts = [c for c in features.columns if c.startswith("forecast_")]
    features.loc[features._day == days[3], forecasts] = float("nan")

    verdict = _scoring_gate(tmp_path, features, days)

    assert [d for d in days if verdict.severity_of(d) == CRITICAL] == []
    assert [d for d in days if verdict.failures_of(d)] == [days[3]]
    assert verdict.severity_of(days[3]) == WARNING
    assert "forecast_temperature_f_null_share" in verdict.summary(days[3])


def test_a_day_with_a_fraction_of_its_flights_fails_the_scoring_gate(six_weeks, tmp_path):
    _, features = _rows(six_weeks)
    features["_day"] = features.flight_date.astype(str)
    days = sorted(features._day.unique())
    features = features[(features._day != days[2]) | (features.index % 10 == 0)]

    verdict = _scoring_gate(tmp_path, features, days)

    assert [d for d in days if verdict.severity_of(d) == CRITICAL] == [days[2]]
    assert "rows_vs_usual" in verdict.summary(days[2])
