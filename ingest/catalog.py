"""The feeds flightline ingests, declared once: where they land, their format and their contract.

Adding a feed is adding an entry here (and a dbt source and staging model for it): the loader,
the Dagster ingest assets and the sensor are all driven by this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

# The pipeline's days (the domain's year): daily files are named by one of them, and Dagster's
# daily partitions are these (orchestration/partitions.py).
FIRST_DAY = date(2013, 1, 1)
LAST_DAY = date(2013, 12, 31)


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False


@dataclass(frozen=True)
class FeedSpec:
    name: str
    description: str
    pattern: str
    """Glob relative to the landing directory."""
    format: Literal["csv", "jsonl", "parquet"]
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    partition_column: str | None = None
    """Daily feeds: the date column that must equal the file's date (its name). A file
    replaces its partition. Reference feeds (None): a file replaces the whole table."""

    @property
    def table(self) -> str:
        return f"raw.{self.name}"

    @property
    def is_daily(self) -> bool:
        return self.partition_column is not None

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


def _names(columns: tuple[Column, ...]) -> tuple[str, ...]:
    return tuple(column.name for column in columns)


# The keys two feeds share, declared once: a flight (schedules, actuals; dbt's flight_id is
# the md5 of these, macros/flight_macros.sql) and an airport's hour (weather, forecasts).
FLIGHT_KEY = (
    Column("flight_date", "DATE", required=True),
    Column("carrier", "VARCHAR", required=True),
    Column("flight", "INTEGER", required=True),
    Column("origin", "VARCHAR", required=True),
)
HOUR_KEY = (
    Column("origin", "VARCHAR", required=True),
    Column("time_hour", "TIMESTAMPTZ", required=True),
)
# An hour's weather as measured; a forecast carries the same measures but the dew point,
# the humidity and the wind's direction (stg_ops__forecasts renames them alike).
WEATHER_MEASURES = tuple(
    Column(name, "DOUBLE")
    for name in (
        "temp",
        "dewp",
        "humid",
        "wind_dir",
        "wind_speed",
        "wind_gust",
        "precip",
        "pressure",
        "visib",
    )
)
FORECAST_MEASURES = tuple(
    column for column in WEATHER_MEASURES if column.name not in ("dewp", "humid", "wind_dir")
)

FEEDS: tuple[FeedSpec, ...] = (
    FeedSpec(
        name="schedules",
        description="One row per scheduled flight, published the day before it flies: "
        "identity and scheduled times only.",
        pattern="schedules/*.csv",
        format="csv",
        columns=(
            *FLIGHT_KEY,
            Column("dest", "VARCHAR", required=True),
            Column("tailnum", "VARCHAR"),
            Column("sched_dep_time", "SMALLINT", required=True),
            Column("sched_arr_time", "SMALLINT", required=True),
            Column("distance", "INTEGER", required=True),
        ),
        natural_key=_names(FLIGHT_KEY),
        partition_column="flight_date",
    ),
    FeedSpec(
        name="actuals",
        description="One row per flight after the day: actual times and delays. Cancelled "
        "flights have no departure time, diverted ones no arrival delay.",
        pattern="actuals/*.csv",
        format="csv",
        columns=(
            *FLIGHT_KEY,
            Column("dep_time", "SMALLINT"),
            Column("dep_delay", "SMALLINT"),
            Column("arr_time", "SMALLINT"),
            Column("arr_delay", "SMALLINT"),
            Column("air_time", "SMALLINT"),
        ),
        natural_key=_names(FLIGHT_KEY),
        partition_column="flight_date",
    ),
    FeedSpec(
        name="weather",
        description="One row per airport and hour, filed per local day.",
        pattern="weather/*.jsonl",
        format="jsonl",
        columns=(
            *HOUR_KEY,
            Column("obs_date", "DATE", required=True),
            Column("hour", "TINYINT", required=True),
            *WEATHER_MEASURES,
        ),
        natural_key=_names(HOUR_KEY),
        partition_column="obs_date",
    ),
    FeedSpec(
        name="forecasts",
        description="Hourly weather forecast per airport for the next day, published the "
        "day before (the stand-in: the weather later observed in that hour).",
        pattern="forecasts/*.jsonl",
        format="jsonl",
        columns=(
            *HOUR_KEY,
            Column("forecast_date", "DATE", required=True),
            Column("hour", "TINYINT", required=True),
            *FORECAST_MEASURES,
        ),
        natural_key=_names(HOUR_KEY),
        partition_column="forecast_date",
    ),
    FeedSpec(
        name="planes",
        description="Aircraft registry: one row per tail number.",
        pattern="reference/planes.parquet",
        format="parquet",
        columns=(
            Column("tailnum", "VARCHAR", required=True),
            Column("year", "SMALLINT"),
            Column("type", "VARCHAR"),
            Column("manufacturer", "VARCHAR"),
            Column("model", "VARCHAR"),
            Column("engines", "TINYINT"),
            Column("seats", "SMALLINT"),
            Column("speed", "SMALLINT"),
            Column("engine", "VARCHAR"),
        ),
        natural_key=("tailnum",),
    ),
    FeedSpec(
        name="airports",
        description="Airports: one row per FAA code.",
        pattern="reference/airports.parquet",
        format="parquet",
        columns=(
            Column("faa", "VARCHAR", required=True),
            Column("name", "VARCHAR", required=True),
            Column("lat", "DOUBLE"),
            Column("lon", "DOUBLE"),
            Column("alt", "INTEGER"),
            Column("tz", "TINYINT"),
            Column("dst", "VARCHAR"),
            Column("tzone", "VARCHAR"),
        ),
        natural_key=("faa",),
    ),
    FeedSpec(
        name="airlines",
        description="Airlines: one row per carrier code.",
        pattern="reference/airlines.csv",
        format="csv",
        columns=(
            Column("carrier", "VARCHAR", required=True),
            Column("name", "VARCHAR", required=True),
        ),
        natural_key=("carrier",),
    ),
)

FEEDS_BY_NAME = {feed.name: feed for feed in FEEDS}
DAILY_FEEDS = tuple(feed for feed in FEEDS if feed.is_daily)
REFERENCE_FEEDS = tuple(feed for feed in FEEDS if not feed.is_daily)
