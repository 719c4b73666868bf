"""The one feature code path: training and scoring both read features.flight_features here,
and every model feature is declared here with its role."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Union

import duckdb
import pandas as pd

if TYPE_CHECKING:
    from ingest.spark_session import SparkSql

FEATURE_RELATION = "features.flight_features"

WarehouseSql = Union[duckdb.DuckDBPyConnection, "SparkSql"]
"""Where the feature rows are: the DuckDB warehouse, or Spark's tables behind the same calls
(ingest/spark_session.py). The readers here send SQL that both engines run."""
KEY_COLUMNS = ["flight_id", "flight_date"]
LABEL = "is_delayed"


class Role(StrEnum):
    """What a feature describes, which decides what its drift means (ml/drift.py)."""

    POPULATION = "population"
    """Who flies where, when and on what plane: a shift is news, and may alert."""
    CALENDAR = "calendar"
    """Shifts by construction: a week of October is not the calendar of January to September."""
    AGGREGATE = "aggregate"
    """A rate or count per airport, carrier, route or plane and day (rolling or the day's):
    one value per group and day, autocorrelated, so a week is a few values against a year."""
    WEATHER = "weather"
    """Follows the season."""


@dataclass(frozen=True)
class Feature:
    name: str
    role: Role
    categorical: bool = False


# The model's column order is FEATURES: the categoricals, then the numbers, each as declared
# here (tests/ml/test_features.py pins it: a model reads its columns by position).
DECLARED = (
    Feature("carrier", Role.POPULATION, categorical=True),
    Feature("origin", Role.POPULATION, categorical=True),
    Feature("dest", Role.POPULATION, categorical=True),
    Feature("scheduled_departure_hour", Role.POPULATION),
    Feature("day_of_week", Role.CALENDAR),
    Feature("is_weekend", Role.CALENDAR),
    Feature("distance_miles", Role.POPULATION),
    Feature("origin_departures_same_hour", Role.POPULATION),
    Feature("origin_departures_same_day", Role.AGGREGATE),
    Feature("plane_leg_of_day", Role.POPULATION),
    Feature("plane_legs_of_day", Role.POPULATION),
    Feature("plane_age_years", Role.POPULATION),
    Feature("plane_seat_count", Role.POPULATION),
    Feature("plane_engine_count", Role.POPULATION),
    Feature("has_plane_record", Role.POPULATION),
    Feature("days_to_nearest_holiday", Role.CALENDAR),
    Feature("carrier_flights_7d", Role.AGGREGATE),
    Feature("carrier_delay_rate_7d", Role.AGGREGATE),
    Feature("carrier_flights_28d", Role.AGGREGATE),
    Feature("carrier_delay_rate_28d", Role.AGGREGATE),
    Feature("origin_flights_1d", Role.AGGREGATE),
    Feature("origin_delay_rate_1d", Role.AGGREGATE),
    Feature("origin_flights_7d", Role.AGGREGATE),
    Feature("origin_delay_rate_7d", Role.AGGREGATE),
    Feature("origin_flights_28d", Role.AGGREGATE),
    Feature("origin_delay_rate_28d", Role.AGGREGATE),
    Feature("route_flights_28d", Role.AGGREGATE),
    Feature("route_delay_rate_28d", Role.AGGREGATE),
    Feature("plane_flights_28d", Role.AGGREGATE),
    Feature("plane_delay_rate_28d", Role.AGGREGATE),
    Feature("forecast_temperature_f", Role.WEATHER),
    Feature("forecast_wind_speed_mph", Role.WEATHER),
    Feature("forecast_wind_gust_mph", Role.WEATHER),
    Feature("forecast_precipitation_in", Role.WEATHER),
    Feature("forecast_visibility_miles", Role.WEATHER),
    Feature("forecast_pressure_mb", Role.WEATHER),
)
# month_of_year is in the feature table but not in the model: a model trained on January to
# September would meet months it has never seen when it scores the last quarter.
CATEGORICAL_FEATURES = [feature.name for feature in DECLARED if feature.categorical]
NUMERIC_FEATURES = [feature.name for feature in DECLARED if not feature.categorical]
FEATURES = CATEGORICAL_FEATURES + NUMERIC_FEATURES


def with_role(role: Role) -> tuple[str, ...]:
    """The features of one role, in the model's column order."""
    return tuple(feature.name for feature in DECLARED if feature.role is role)


def read_features(
    con: WarehouseSql,
    start: date | str | None = None,
    end: date | str | None = None,
    labelled_only: bool = False,
    sample: float = 1.0,
    flight_ids: list[str] | None = None,
) -> pd.DataFrame:
    """Feature rows of flights in [start, end] (inclusive), ordered by flight_id, typed for
    the model: categoricals as strings, everything else as float (NaN for unknown).
    `sample` < 1 keeps that share of the flights (`sample_condition`); `flight_ids` keeps
    those flights only (online scoring, ml/online.py: DuckDB only)."""
    columns = ", ".join([*KEY_COLUMNS, *FEATURES, LABEL])
    where, params = _where(start, end, labelled_only, sample, flight_ids)
    frame = con.execute(
        f"select {columns} from {FEATURE_RELATION} {where} order by flight_date, flight_id",
        params,
    ).df()
    return prepare(frame)


def _where(
    start: date | str | None,
    end: date | str | None,
    labelled_only: bool,
    sample: float = 1.0,
    flight_ids: list[str] | None = None,
) -> tuple[str, list]:
    """The where clause (and its parameters) selecting feature rows of [start, end]."""
    conditions, params = [], []
    if start is not None:
        conditions.append("flight_date >= ?::date")
        params.append(str(start))
    if end is not None:
        conditions.append("flight_date <= ?::date")
        params.append(str(end))
    if labelled_only:
        conditions.append(f"{LABEL} is not null")
    if sample < 1:
        conditions.append(sample_condition(sample))
    if flight_ids is not None:
        conditions.append("flight_id in (select unnest(?::varchar[]))")
        params.append(list(flight_ids))
    return (f"where {' and '.join(conditions)}" if conditions else ""), params


def read_features_at_most(
    con: WarehouseSql,
    start: date | str | None,
    end: date | str | None,
    max_rows: int,
    labelled_only: bool = False,
) -> tuple[pd.DataFrame, float]:
    """`read_features`, drawing a sample of the flights when [start, end] holds more than
    `max_rows` (about): what training and drift read, so that their memory and time stop
    growing with the flights a day. Returns the rows and the share of flights kept."""
    where, params = _where(start, end, labelled_only)
    (rows,) = con.execute(f"select count(*) from {FEATURE_RELATION} {where}", params).fetchone()
    share = min(1.0, max_rows / rows) if rows else 1.0
    return read_features(con, start, end, labelled_only, sample=share), share


def sample_condition(share: float) -> str:
    """SQL keeping `share` of the flights, the same ones every time: flight_id is an md5
    (uniform hex), so `flight_id < prefix` is a deterministic, seed-free sample, in SQL,
    before any row reaches pandas; a larger share keeps every flight a smaller one kept."""
    prefix = min(int(share * 16**8), 16**8 - 1)
    return f"flight_id < '{prefix:08x}'"


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for column in CATEGORICAL_FEATURES:
        frame[column] = frame[column].astype("object").where(frame[column].notna(), None)
    for column in NUMERIC_FEATURES:
        frame[column] = pd.to_numeric(frame[column], errors="raise").astype("float64")
    frame["flight_date"] = pd.to_datetime(frame["flight_date"]).dt.date
    return frame
