"""Population stability of features and scores: what changed in the flights the champion
scores, and whether the change is one that should alert.

PSI = sum over bins of (actual - expected) * ln(actual / expected). Numeric features are
binned at the training reference's deciles, or a bin per value when they take at most ten
(missing values are a bin of their own);
categorical ones by category, rare reference categories (< 1%) and unseen ones pooled as
"other". Common reading: < 0.1 stable, 0.1 - 0.25 moderate shift, > 0.25 major shift.

For a scored day D, the window is the TRAILING_DAYS days ending at D, pooled (a week holds
every weekday and a spread of weather; single days alerted on every weather column every
day). The window is compared with two references, in the same bins:
- training: the champion's training window (for the score, its scores on its validation
  window: scores on the rows it was fitted on are overconfident); kept beside the model as
  drift_reference_v2.json;
- recent: the RECENT_DAYS days before the window, what the pipeline saw last month.

Only ALERTING_COLUMNS can alert, and only when the window differs from both references: a
change in who flies where, when, and on what plane, that is new to the model AND new since
last month. Measured on the Q4 2013 replay (docs/monitoring.md, benchmarks/drift_q4.py), the
first monitor (any column above 0.25 against the training window) alerted on all 92 days:
- calendar features (day_of_week, days_to_nearest_holiday, ...) shift by construction: a
  week of October is not the calendar of January to September;
- rolling rates and counts (origin_delay_rate_28d, carrier_flights_7d, ...) take one value
  per origin or carrier and day, so a week is 20 values against a year's spread: PSI 3 to 16
  on ordinary weeks; and they are autocorrelated, one shift lasts weeks;
- weather follows the season, and the score follows the weather: the score alerted on the
  fortnight of December storms, when the model discriminated as well as ever.
Those columns are measured and kept (status 'watch') to read beside an alert, never alerting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from ingest.tables import FEATURE_DRIFT, ensure_table
from ml.features import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    Role,
    WarehouseSql,
    read_features_at_most,
    with_role,
)
from ml.registry import RegisteredModel
from ml.scoring import ensure_predictions, predict_scores
from ml.training_config import MAX_TRAINING_ROWS

TRAILING_DAYS = 7
# The recent reference: this many days before each window.
RECENT_DAYS = 28
# The columns whose shift alerts: the population of flights (carrier, airports, schedule,
# fleet). The module's docstring says why the others are only watched.
ALERTING_COLUMNS = with_role(Role.POPULATION)
WATCH = "watch"
# Flights a day the drift windows read at most (a sample past it); 2013 has at most 1,014.
DRIFT_ROWS_PER_DAY = 15_000
# Versioned by its binning: a model whose reference was written with other bins (v1: flags
# at deciles) gets one rebuilt from the warehouse the first time monitoring reads it.
REFERENCE_FILE = "drift_reference_v2.json"
SCORE = "score"
EPSILON = 1e-4
MISSING = "__missing__"
OTHER = "__other__"


@dataclass(frozen=True)
class DriftThresholds:
    warn: float = 0.1
    alert: float = 0.25

    def judge(self, column: str, psi_training: float, psi_recent: float) -> str:
        """A column's status in a window: alerting columns by the smaller of their two PSIs
        (a shift against both references; against training alone while there is no recent
        one), the others 'watch'."""
        if column not in ALERTING_COLUMNS:
            return WATCH
        return self.status(psi_training if np.isnan(psi_recent) else min(psi_training, psi_recent))

    def status(self, value: float) -> str:
        if np.isnan(value):
            return "ok"
        if value > self.alert:
            return "alert"
        if value > self.warn:
            return "warn"
        return "ok"


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.clip(np.asarray(expected, dtype=float), EPSILON, None)
    actual = np.clip(np.asarray(actual, dtype=float), EPSILON, None)
    expected, actual = expected / expected.sum(), actual / actual.sum()
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _bin_index(values: pd.Series, spec: dict[str, Any]) -> np.ndarray:
    """Each value's bin in a reference column's spec: numeric bins by its edges (missing
    last), categories by position (missing as MISSING, unseen as OTHER)."""
    if spec["kind"] == "numeric":
        edges = spec["edges"]
        array = values.to_numpy(dtype=float)
        bins = np.digitize(array, edges[1:-1], right=True)
        bins[np.isnan(array)] = len(edges) - 1
        return bins
    categories = spec["categories"]
    labels = values.astype("object").where(values.notna(), MISSING)
    labels = labels.where(labels.isin(categories), OTHER)
    return pd.Categorical(labels, categories=categories).codes.astype(np.int64)


def _bin_count(spec: dict[str, Any]) -> int:
    return len(spec["edges"]) if spec["kind"] == "numeric" else len(spec["categories"])


def _numeric_bins(values: pd.Series, edges: list[float]) -> np.ndarray:
    spec = {"kind": "numeric", "edges": edges}
    return np.bincount(_bin_index(values, spec), minlength=_bin_count(spec))


def _categorical_counts(values: pd.Series, categories: list[str]) -> np.ndarray:
    spec = {"kind": "categorical", "categories": categories}
    return np.bincount(_bin_index(values, spec), minlength=_bin_count(spec))


def build_reference(frame: pd.DataFrame, scores: np.ndarray | None = None) -> dict[str, Any]:
    """Bins and proportions of every monitored feature (and the score) in the reference."""
    reference: dict[str, Any] = {}
    columns = {name: frame[name] for name in NUMERIC_FEATURES}
    if scores is not None:
        columns[SCORE] = pd.Series(scores)
    for name, values in columns.items():
        present = values.dropna().to_numpy(dtype=float)
        distinct = np.unique(present)
        if len(distinct) == 1:
            # One value: below it, it, above it.
            edges = [-np.inf, float(np.nextafter(distinct[0], -np.inf)), float(distinct[0]), np.inf]
        elif len(distinct) <= 10:
            # A flag or a count with few values: a bin each. Deciles of a flag that is
            # mostly 1 collapse into one bin, and then a register that stops matching (every
            # has_plane_record false) measured PSI 0.
            edges = [-np.inf, *((distinct[1:] + distinct[:-1]) / 2).tolist(), np.inf]
        else:
            quantiles = (
                np.unique(np.quantile(present, np.linspace(0, 1, 11))) if len(present) else []
            )
            edges = (
                [-np.inf, *quantiles[1:-1].tolist(), np.inf]
                if len(quantiles) > 2
                else [-np.inf, np.inf]
            )
        counts = _numeric_bins(values, edges)
        reference[name] = {"kind": "numeric", "edges": edges, "expected": counts.tolist()}
    for name in CATEGORICAL_FEATURES:
        values = frame[name].astype("object").where(frame[name].notna(), MISSING)
        shares = values.value_counts(normalize=True)
        categories = [*sorted(shares[shares >= 0.01].index), OTHER]
        if MISSING not in categories:
            categories.append(MISSING)
        counts = _categorical_counts(frame[name], categories)
        reference[name] = {
            "kind": "categorical",
            "categories": categories,
            "expected": counts.tolist(),
        }
    return reference


def population_stability(
    reference: dict[str, Any], frame: pd.DataFrame, scores: np.ndarray | None = None
) -> dict[str, float]:
    """PSI of each monitored column of `frame` (one day, say) against the reference."""
    result = {}
    for name, spec in reference.items():
        if name == SCORE:
            if scores is None:
                continue
            values = pd.Series(scores)
        else:
            values = frame[name]
        actual = np.bincount(_bin_index(values, spec), minlength=_bin_count(spec))
        result[name] = psi(spec["expected"], actual)
    return result


def reference_for(con: WarehouseSql, model: RegisteredModel) -> dict[str, Any]:
    """The model's drift reference: loaded from its artifacts (training writes it), built
    from the warehouse for a model registered without one."""
    path = Path(model.artifact_path) / REFERENCE_FILE
    if path.exists():
        return json.loads(path.read_text())
    reference = warehouse_reference(con, model)
    path.write_text(json.dumps(reference))
    return reference


def warehouse_reference(con: WarehouseSql, model: RegisteredModel) -> dict[str, Any]:
    """`model`'s drift reference built now from the warehouse's rows of its windows."""
    training, _ = read_features_at_most(
        con, model.training_start, model.training_end, MAX_TRAINING_ROWS, labelled_only=True
    )
    validation, _ = read_features_at_most(
        con, model.validation_start, model.validation_end, MAX_TRAINING_ROWS, labelled_only=True
    )
    if training.empty or validation.empty:
        raise ValueError(
            f"cannot build the drift reference of {model.model_version}: its training window "
            f"{model.training_start} .. {model.training_end} has {len(training)} feature rows "
            "in the warehouse (were features rebuilt from a shorter history?)"
        )
    scores = predict_scores(model.load(), validation)
    return build_reference(training, scores)


def drift_span(
    days: list[str], trailing_days: int = TRAILING_DAYS, recent_days: int = RECENT_DAYS
) -> tuple[date, date]:
    """The flight dates drift_for_days reads for `days`: each day's trailing window and the
    recent reference before it."""
    wanted = sorted(date.fromisoformat(str(day)) for day in days)
    return wanted[0] - timedelta(days=trailing_days - 1 + recent_days), wanted[-1]


def drift_for_days(
    con: WarehouseSql,
    model: RegisteredModel,
    days: list[str],
    thresholds: DriftThresholds,
    trailing_days: int = TRAILING_DAYS,
    recent_days: int = RECENT_DAYS,
    reference: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """One row per day and monitored column (every feature, and the score): PSI of the
    trailing window ending on that day against the model's training reference (`psi`) and
    against the `recent_days` before the window (`psi_recent`, NaN when none of them has
    flights), and the status `thresholds.judge` gives them. The flights have `model`'s
    scores (model_scores), so the score's PSI is the champion's whatever else scored them.
    `reference`: the training reference to measure against; by default the model's own
    (`reference_for`)."""
    if reference is None:
        reference = reference_for(con, model)
    wanted = sorted(date.fromisoformat(str(day)) for day in days)
    first, _ = drift_span(days, trailing_days, recent_days)
    # A sample of the flights past ~DRIFT_ROWS_PER_DAY a day (2013: all of them): PSI over
    # a 7-day window of 100k flights is as good as over 600k, at a sixth of the cost.
    span = (wanted[-1] - first).days + 1
    frame, _ = read_features_at_most(con, first, wanted[-1], DRIFT_ROWS_PER_DAY * span)
    if frame.empty:
        raise ValueError(f"no feature rows between {first} and {wanted[-1]} to measure drift on")
    scores = pd.Series(model_scores(con, model, frame))
    # Bin counts per calendar day once, then each window (and each recent reference) is a
    # sum of days: filtering the frame per day and binning it again cost O(days x rows) (70 s
    # for a quarter of a 10M-flight year). Counts add exactly, so the PSI is the same.
    offsets = (pd.to_datetime(frame.flight_date) - pd.Timestamp(first)).dt.days.to_numpy()
    rows_per_day = np.bincount(offsets, minlength=span)
    cumulative_rows = np.concatenate([[0], np.cumsum(rows_per_day)])
    cumulative: dict[str, np.ndarray] = {}
    for name, spec in reference.items():
        values = scores if name == SCORE else frame[name].reset_index(drop=True)
        bins = _bin_count(spec)
        per_day = np.bincount(
            offsets * bins + _bin_index(values, spec), minlength=span * bins
        ).reshape(span, bins)
        cumulative[name] = np.vstack([np.zeros(bins, dtype=np.int64), np.cumsum(per_day, 0)])
    rows = []
    computed_at = datetime.now(UTC)
    for day in wanted:
        start = day - timedelta(days=trailing_days - 1)
        low, high = (start - first).days, (day - first).days + 1
        recent_low = max(low - recent_days, 0)
        window_rows = int(cumulative_rows[high] - cumulative_rows[low])
        if not window_rows:
            raise ValueError(f"no feature rows in the drift window {start} .. {day}")
        recent_rows = int(cumulative_rows[low] - cumulative_rows[recent_low])
        for name, spec in reference.items():
            window = cumulative[name][high] - cumulative[name][low]
            value = psi(spec["expected"], window)
            recent = (
                psi(cumulative[name][low] - cumulative[name][recent_low], window)
                if recent_rows
                else float("nan")
            )
            rows.append(
                {
                    "flight_date": day,
                    "model_version": model.model_version,
                    "feature": name,
                    "kind": spec["kind"] if name != SCORE else "score",
                    "psi": value,
                    "status": thresholds.judge(name, value, recent),
                    "psi_recent": recent,
                    "alerting": name in ALERTING_COLUMNS,
                    "window_start": start,
                    "window_end": day,
                    "window_rows": window_rows,
                    "computed_at": computed_at,
                }
            )
    return pd.DataFrame(rows)


def model_scores(con: WarehouseSql, model: RegisteredModel, frame: pd.DataFrame) -> np.ndarray:
    """`model`'s scores of `frame`'s flights, in the frame's order: those it wrote to
    ml.predictions (what it served; the inference run scores before it measures drift), and
    the rest (days it has not scored, such as the days of a trailing window before its first
    scored day) scored here. Re-scoring every row cost 15 s of a 10M-flight quarter's 34."""
    keys = pd.DataFrame({"flight_id": frame.flight_id.to_numpy(), "position": range(len(frame))})
    scores = np.full(len(frame), np.nan)
    if isinstance(con, duckdb.DuckDBPyConnection):  # Spark's session declares it (open_spark)
        ensure_predictions(con)
    con.register("_drift_flights", keys)
    try:
        known = con.execute(
            """
            select keys.position, predictions.score
            from _drift_flights as keys
            join ml.predictions as predictions
                on predictions.flight_id = keys.flight_id
                and predictions.model_version = ?
                and predictions.flight_date between ? and ?
            """,
            [model.model_version, min(frame.flight_date), max(frame.flight_date)],
        ).fetchnumpy()
        scores[known["position"]] = known["score"]
    finally:
        con.unregister("_drift_flights")
    missing = np.isnan(scores)
    if missing.any():
        scores[missing] = predict_scores(model.load(), frame.loc[missing])
    return scores


def write_drift(con: duckdb.DuckDBPyConnection, rows: pd.DataFrame) -> None:
    """Replace the drift rows of the days in `rows`, in one transaction."""
    ensure_table(con, FEATURE_DRIFT)
    days = sorted({str(day) for day in rows.flight_date})
    con.execute("begin transaction")
    try:
        con.execute(
            "delete from ml.feature_drift where flight_date in (select unnest(?::date[]))", [days]
        )
        con.register("_drift_rows", rows)
        con.execute(
            "insert into ml.feature_drift by name select flight_date, model_version, feature, "
            "kind, psi, status, psi_recent, alerting, window_start, window_end, window_rows, "
            "computed_at from _drift_rows"
        )
        con.unregister("_drift_rows")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
