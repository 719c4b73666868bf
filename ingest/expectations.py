"""The expectation suites of the raw feeds: what a landed day must look like.

Reviewed like code, never generated from data. Bounds are physical or operational limits,
checked against every day of 2013 so that real data passes every critical expectation
(`tests/ingest/test_quality.py` proves it on the whole year). Row expectations never use
`mostly`: GX would judge the share over the whole batch, while a share is a property of one
day; shares live in the partition expectations, on the day's profile
(`<column>_null_share`, `<column>_mean`, `rows`). See ingest/quality.py for what each
severity does.
"""

from __future__ import annotations

from ingest.catalog import FEEDS_BY_NAME
from ingest.quality import CRITICAL, WARNING, Suite
from ingest.spark_server import quiet_spark_warnings

# Great Expectations imports PySpark where it is installed (`make install-spark`), and
# PySpark warns at its import that it "does not yet fully support pandas >= 3": in the
# operator's `flightline ingest` output, on an ingest that has nothing to do with Spark.
# Filtered before that import, here: the first import of GX in every flightline process
# (ml/expectations.py takes `gxe` from this module).
quiet_spark_warnings()

import great_expectations.expectations as gxe  # noqa: E402

AIRPORTS = ["EWR", "JFK", "LGA"]
# The carriers flying out of New York in 2013; a new one is news, not an error.
CARRIERS = [
    "9E",
    "AA",
    "AS",
    "B6",
    "DL",
    "EV",
    "F9",
    "FL",
    "HA",
    "MQ",
    "OO",
    "UA",
    "US",
    "VX",
    "WN",
    "YV",
]


def between(column: str, low: float | None, high: float | None, severity: str = CRITICAL):
    return gxe.ExpectColumnValuesToBeBetween(
        column=column, min_value=low, max_value=high, severity=severity
    )


def in_set(column: str, values: list[str], severity: str = CRITICAL):
    return gxe.ExpectColumnValuesToBeInSet(column=column, value_set=values, severity=severity)


def not_null(column: str, severity: str = CRITICAL):
    return gxe.ExpectColumnValuesToNotBeNull(column=column, severity=severity)


def day_rows(low: int, high: int):
    """The day's row count within the usual band: a short day is an incomplete file."""
    return between("rows", low, high)


def day_rows_vs_usual(low: float = 0.5, high: float = 2.0):
    """The day's rows against the usual day's (the median of the batch and the 28 latest
    loaded days, ingest/load/validation.py): a band that holds at 1k flights a day or 100k.
    In 2013 the quietest day (Thanksgiving, 634) is 0.67 of the usual, the busiest 1.08."""
    return between("rows_vs_usual", low, high)


def day_null_share(column: str, high: float, severity: str = CRITICAL):
    return between(f"{column}_null_share", None, high, severity)


def _weather_rows(columns: set[str], hour_column: str = "hour") -> tuple:
    limits = {
        "temp": (-40, 130, CRITICAL),
        "dewp": (-60, 100, CRITICAL),
        "humid": (0, 100, CRITICAL),
        "wind_dir": (0, 360, CRITICAL),
        # 2013-02-12 has a 1,048 mph reading at EWR: real, kept, and worth a warning.
        "wind_speed": (0, 150, WARNING),
        "wind_gust": (0, 200, WARNING),
        "precip": (0, 10, CRITICAL),
        "pressure": (900, 1100, CRITICAL),
        "visib": (0, 10, CRITICAL),
    }
    return (
        in_set("origin", AIRPORTS),
        between(hour_column, 0, 23),
        *(between(c, low, high, sev) for c, (low, high, sev) in limits.items() if c in columns),
    )


def _weather_days() -> tuple:
    # 3 airports x 24 hours = 72; 2013 has days down to 57 (missing hours) and 73 at the
    # daylight-saving change.
    return (
        day_rows(36, 80),
        day_null_share("temp", 0.2),
        day_null_share("wind_speed", 0.2),
        day_null_share("pressure", 0.7, WARNING),
    )


SCHEDULES = Suite(
    name="raw_schedules",
    rows=(
        in_set("origin", AIRPORTS),
        in_set("carrier", CARRIERS, WARNING),
        between("sched_dep_time", 0, 2400),
        between("sched_arr_time", 0, 2400),
        between("distance", 10, 6000),
        between("flight", 1, 9999),
    ),
    partitions=(day_rows_vs_usual(), day_null_share("tailnum", 0.05, WARNING)),
)

ACTUALS = Suite(
    name="raw_actuals",
    rows=(
        in_set("origin", AIRPORTS),
        between("dep_time", 0, 2400),
        between("arr_time", 0, 2400),
        between("dep_delay", -120, 1800),
        between("arr_delay", -120, 1800),
        between("air_time", 10, 800),
    ),
    partitions=(
        day_rows_vs_usual(),
        # Cancelled flights have no departure: 2013's worst day (a blizzard) lost 57%.
        day_null_share("dep_time", 0.3, WARNING),
        day_null_share("dep_time", 0.9),
    ),
)

WEATHER = Suite(
    name="raw_weather",
    rows=_weather_rows(set(FEEDS_BY_NAME["weather"].column_names)),
    partitions=_weather_days(),
)

FORECASTS = Suite(
    name="raw_forecasts",
    rows=_weather_rows(set(FEEDS_BY_NAME["forecasts"].column_names)),
    partitions=_weather_days(),
)

PLANES = Suite(
    name="raw_planes",
    rows=(
        between("year", 1940, 2030, WARNING),
        between("engines", 1, 8),
        between("seats", 1, 1000),
    ),
    partitions=(between("rows", 100, None),),
)

AIRPORTS_SUITE = Suite(
    name="raw_airports",
    rows=(between("lat", -90, 90), between("lon", -180, 180), between("tz", -12, 14)),
    partitions=(between("rows", 100, None),),
)

AIRLINES = Suite(
    name="raw_airlines",
    rows=(gxe.ExpectColumnValueLengthsToBeBetween(column="carrier", min_value=2, max_value=3),),
    partitions=(between("rows", 1, None),),
)

RAW_SUITES: dict[str, Suite] = {
    "schedules": SCHEDULES,
    "actuals": ACTUALS,
    "weather": WEATHER,
    "forecasts": FORECASTS,
    "planes": PLANES,
    "airports": AIRPORTS_SUITE,
    "airlines": AIRLINES,
}
