"""Batch inference: score every scheduled flight of a day with the champion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb
import numpy as np
import pandas as pd

from ingest.spark_session import SparkSql, predictions_schema
from ingest.tables import PREDICTIONS, ensure_table
from ml.features import FEATURE_RELATION, FEATURES, KEY_COLUMNS, prepare, read_features
from ml.registry import RegisteredModel


class ScoringError(Exception):
    """A day cannot be scored; the message says why and what to do."""


@dataclass
class DayScores:
    day: str
    rows: int
    scores: np.ndarray
    without_forecast: int = 0
    """Flights scored without any forecast for their hour (ml.predictions.forecast_missing)."""


def ensure_predictions(con: duckdb.DuckDBPyConnection) -> None:
    """For connections not opened by ingest.warehouse.connect (which creates every table)."""
    ensure_table(con, PREDICTIONS)


PREDICT_BATCH_ROWS = 100_000
"""Rows per `predict_proba` call. scikit-learn's boosted trees (1.9) walk every row through
one tree, then the next: past ~200k rows the features stop fitting in the CPU's caches and
each of the trees (200 then, 150 now) reads them again. Measured on a 10M-flight year's
champion, medians of 3: 9.3 us a row in calls of 500k rows, 5.6 in calls of 100k (6.0 at
50k, 7.1 at 20k, where the per-call overhead shows)."""


def predict_scores(estimator, features: pd.DataFrame) -> np.ndarray:
    """The positive class's probability for each row of `features`, in batches of
    PREDICT_BATCH_ROWS: each row is scored on its own, so the scores are one call's (to the
    last bits of a double, where a linear model's BLAS sums a batch in another order)."""
    x = features[FEATURES]
    return np.concatenate(
        [
            estimator.predict_proba(x.iloc[start : start + PREDICT_BATCH_ROWS])[:, 1]
            for start in range(0, len(x), PREDICT_BATCH_ROWS)
        ]
        or [np.empty(0)]
    )


FORECAST_FEATURES = [name for name in FEATURES if name.startswith("forecast_")]


def predict(model: RegisteredModel, estimator, features: pd.DataFrame) -> pd.DataFrame:
    scores = predict_scores(estimator, features)
    # Scored without any forecast for its hour (the day's forecast did not arrive, or not
    # that hour's): the model used what was known; analysts can leave such rows out.
    forecast_missing = features[FORECAST_FEATURES].isna().all(axis=1).to_numpy()
    return pd.DataFrame(
        {
            "flight_id": features.flight_id.to_numpy(),
            "flight_date": features.flight_date.to_numpy(),
            "model_version": model.model_version,
            "score": scores,
            "predicted_label": scores >= model.threshold,
            "threshold": model.threshold,
            "scored_at": datetime.now(UTC),
            "forecast_missing": forecast_missing,
        }
    )


SCORING_CHUNK_ROWS = 500_000
"""Days are read and scored in chunks of about this many rows: memory stays flat however
many flights a day has or how many days are scored at once."""


def _chunks(counts: dict[date, int], limit: int) -> list[list[date]]:
    """Consecutive days grouped so that each group holds at most `limit` rows (a day larger
    than `limit` is a group of its own)."""
    chunks: list[list[date]] = []
    size = 0
    for day in sorted(counts):
        if not chunks or size + counts[day] > limit:
            chunks.append([])
            size = 0
        chunks[-1].append(day)
        size += counts[day]
    return chunks


def _day_scores(predictions: pd.DataFrame) -> list[DayScores]:
    return [
        DayScores(str(day), len(rows), rows.score.to_numpy(), int(rows.forecast_missing.sum()))
        for day, rows in predictions.groupby("flight_date", sort=True)
    ]


def _missing_days(wanted: list[date], counts: dict[date, int]) -> None:
    for day in wanted:
        if day not in counts:
            raise ScoringError(
                f"no rows in features.flight_features for {day}: its schedules have not been "
                "loaded and built yet (land the feed, then flightline run); nothing was written"
            )


def score_days(
    con: duckdb.DuckDBPyConnection,
    model: RegisteredModel,
    days: list[date | str],
    chunk_rows: int = SCORING_CHUNK_ROWS,
) -> list[DayScores]:
    """Score each day with `model` and replace that day's rows in ml.predictions.

    Reads the same feature relation as training (ml.features.read_features). A day with no
    feature rows fails: an empty partition would look like a day without flights. All days
    are replaced in one transaction, read and scored in chunks of about `chunk_rows`.
    """
    ensure_predictions(con)
    wanted = sorted({date.fromisoformat(str(day)) for day in days})
    counts = dict(
        con.execute(
            f"select flight_date, count(*) from {FEATURE_RELATION} "
            "where flight_date in (select unnest(?::date[])) group by all",
            [[str(day) for day in wanted]],
        ).fetchall()
    )
    _missing_days(wanted, counts)
    estimator = model.load()
    results: list[DayScores] = []
    con.execute("begin transaction")
    try:
        con.execute(
            "delete from ml.predictions where flight_date in (select unnest(?::date[]))",
            [[str(day) for day in wanted]],
        )
        for chunk in _chunks(counts, chunk_rows):
            features = read_features(con, start=chunk[0], end=chunk[-1])
            features = features[features.flight_date.isin(chunk)]
            predictions = predict(model, estimator, features)
            results.extend(_day_scores(predictions))
            con.register("_new_predictions", predictions)
            con.execute(
                "insert into ml.predictions (flight_id, flight_date, model_version, score, "
                "predicted_label, threshold, scored_at, forecast_missing) "
                "select flight_id, flight_date::date, model_version, score, predicted_label, "
                "threshold, scored_at, forecast_missing from _new_predictions"
            )
            con.unregister("_new_predictions")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
    return results


def score_days_on_spark(
    sql: SparkSql, model: RegisteredModel, days: list[date | str]
) -> list[DayScores]:
    """`score_days` on the Spark engine: the days' feature rows never leave Spark whole.
    Each Python worker gets the rows in Arrow batches (`mapInPandas`) and scores them with
    `predict`, the batch pipeline's own function (the same columns, `prepare`d as training
    read them, through `predict_scores`); the days' partitions of ml.predictions are then
    replaced in one write (dynamic partition overwrite: the other days stay)."""
    from pyspark.sql import functions as F

    spark = sql.spark
    wanted = sorted({date.fromisoformat(str(day)) for day in days})
    rows = spark.table(FEATURE_RELATION).where(F.col("flight_date").isin(wanted))
    counts = {day: count for day, count in rows.groupBy("flight_date").count().collect()}
    _missing_days(wanted, counts)
    estimator = model.load()  # pickled with `score` into each worker's task

    def score(batches):
        for batch in batches:
            yield predict(model, estimator, prepare(batch))

    columns = spark.table(PREDICTIONS).columns  # by position: the partition column last
    # Only the days written are replaced, whatever the session was made with: in Spark's
    # default (static) mode an overwrite empties every other date partition too.
    spark.conf.set("spark.sql.sources.partitionOverwriteMode", "dynamic")
    scored = rows.select(*KEY_COLUMNS, *FEATURES).mapInPandas(score, predictions_schema())
    scored.select(*columns).write.insertInto(PREDICTIONS, overwrite=True)
    sql.refresh_predictions()
    written = (
        spark.table(PREDICTIONS)
        .where(F.col("flight_date").isin(wanted))
        .select("flight_date", "flight_id", "score", "forecast_missing")
        .toPandas()
        .sort_values(["flight_date", "flight_id"])
    )
    return _day_scores(written)
