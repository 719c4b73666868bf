"""The reference flightline is measured against: the same features, training and scoring
written as a plain pandas script, the way a data scientist writes it in a notebook.

Never used by the product. It reads the landed feed files directly (no warehouse, no
exactly-once, no quarantine, no checks, no registry), builds the point-in-time features
with pandas (rolling delay rates over the days before each flight, schedule load, plane leg
of the day, plane attributes, holiday proximity, the forecast at the scheduled hour),
trains the champion's algorithm on the days before the cutoff and scores the rest.

    python benchmarks/pandas_reference.py <landing dir> [--cutoff 2013-10-01]

prints one JSON line: seconds per stage, peak memory (RSS, MB), rows, ROC AUC.
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.metrics import roc_auc_score

CATEGORICAL = ["carrier", "origin", "dest"]
HOLIDAYS = pd.to_datetime(
    [
        "2013-01-01", "2013-01-21", "2013-02-18", "2013-05-27", "2013-07-04", "2013-09-02",
        "2013-10-14", "2013-11-11", "2013-11-28", "2013-12-25", "2014-01-01", "2014-01-20",
        "2012-12-25",
    ]
)  # fmt: skip


def read_feeds(landing: Path) -> dict[str, pd.DataFrame]:
    def csvs(folder: str) -> pd.DataFrame:
        return pd.concat(
            [pd.read_csv(path) for path in sorted((landing / folder).glob("*.csv"))],
            ignore_index=True,
        )

    forecasts = pd.concat(
        [
            pd.read_json(path, lines=True)
            for path in sorted((landing / "forecasts").glob("*.jsonl"))
        ],
        ignore_index=True,
    )
    return {
        "schedules": csvs("schedules"),
        "actuals": csvs("actuals"),
        "forecasts": forecasts,
        "planes": pd.read_parquet(landing / "reference" / "planes.parquet"),
    }


def rolling_rates(flights: pd.DataFrame, name: str, keys: list[str], windows: list[int]):
    daily = (
        flights.dropna(subset=keys)
        .groupby([*keys, "flight_date"])
        .agg(known=("has_actuals", "sum"), delayed=("is_delayed", "sum"))
        .reset_index()
        .sort_values("flight_date")
    )
    for days in windows:
        rolled = (
            daily.groupby(keys)[["flight_date", "known", "delayed"]]
            .rolling(f"{days}D", on="flight_date", closed="left")
            .sum()
            .reset_index(level=list(range(len(keys))))
        )
        daily[f"{name}_flights_{days}d"] = rolled["known"].fillna(0).to_numpy()
        daily[f"{name}_delay_rate_{days}d"] = (rolled["delayed"] / rolled["known"]).to_numpy()
    return daily.drop(columns=["known", "delayed"])


def build_features(feeds: dict[str, pd.DataFrame]) -> pd.DataFrame:
    flights = feeds["schedules"].merge(
        feeds["actuals"][["flight_date", "carrier", "flight", "origin", "dep_time", "arr_delay"]],
        on=["flight_date", "carrier", "flight", "origin"],
        how="left",
        indicator=True,
    )
    flights["flight_date"] = pd.to_datetime(flights.flight_date)
    flights["has_actuals"] = flights.pop("_merge") == "both"
    late = flights.arr_delay.isna() | (flights.arr_delay >= 15)
    flights["is_delayed"] = np.where(flights.has_actuals, late, np.nan)
    departure = flights.flight_date + pd.to_timedelta(
        flights.sched_dep_time // 100 * 60 + flights.sched_dep_time % 100, unit="m"
    )
    flights["scheduled_departure_hour"] = departure.dt.hour
    flights["day_of_week"] = flights.flight_date.dt.day_of_week + 1
    flights["is_weekend"] = flights.day_of_week >= 6
    flights["distance_miles"] = flights.distance
    by_hour = flights.groupby(["origin", "flight_date", "scheduled_departure_hour"]).flight
    flights["origin_departures_same_hour"] = by_hour.transform("size")
    flights["origin_departures_same_day"] = flights.groupby(
        ["origin", "flight_date"]
    ).flight.transform("size")
    flights = flights.sort_values(["tailnum", "flight_date", "sched_dep_time"])
    by_plane = flights.groupby(["tailnum", "flight_date"]).flight
    flights["plane_leg_of_day"] = by_plane.cumcount() + 1
    flights["plane_legs_of_day"] = by_plane.transform("size")
    planes = feeds["planes"][["tailnum", "year", "seats", "engines"]]
    flights = flights.merge(planes, on="tailnum", how="left")
    flights["plane_age_years"] = flights.flight_date.dt.year - flights.year
    flights["plane_seat_count"] = flights.seats
    flights["plane_engine_count"] = flights.engines
    flights["has_plane_record"] = flights.year.notna() | flights.seats.notna()
    days = flights.flight_date.drop_duplicates()
    nearest = days.apply(lambda day: np.abs((HOLIDAYS - day).days).min())
    flights["days_to_nearest_holiday"] = flights.flight_date.map(
        dict(zip(days, nearest, strict=True))
    )
    for name, keys, windows in (
        ("carrier", ["carrier"], [7, 28]),
        ("origin", ["origin"], [1, 7, 28]),
        ("route", ["origin", "dest"], [28]),
        ("plane", ["tailnum"], [28]),
    ):
        flights = flights.merge(
            rolling_rates(flights, name, keys, windows), on=[*keys, "flight_date"], how="left"
        )
    forecasts = feeds["forecasts"]
    forecasts["hour_utc"] = pd.to_datetime(forecasts.time_hour, utc=True)
    local = departure.dt.tz_localize("America/New_York", ambiguous="NaT", nonexistent="NaT")
    flights["hour_utc"] = local.dt.floor("h").dt.tz_convert("UTC").reindex(flights.index)
    weather = forecasts.rename(
        columns={
            "temp": "forecast_temperature_f",
            "wind_speed": "forecast_wind_speed_mph",
            "wind_gust": "forecast_wind_gust_mph",
            "precip": "forecast_precipitation_in",
            "visib": "forecast_visibility_miles",
            "pressure": "forecast_pressure_mb",
        }
    )
    columns = [
        "origin",
        "hour_utc",
        *[c for c in weather if c.startswith("forecast_") and c != "forecast_date"],
    ]
    return flights.merge(weather[columns], on=["origin", "hour_utc"], how="left")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("landing", type=Path)
    parser.add_argument("--cutoff", default="2013-10-01")
    args = parser.parse_args()
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    feeds = read_feeds(args.landing)
    seconds["read"] = time.perf_counter() - started
    mark = time.perf_counter()
    frame = build_features(feeds)
    seconds["features"] = time.perf_counter() - mark
    features = [
        c
        for c in frame.columns
        if c.endswith(("_7d", "_28d", "_1d"))
        or c.startswith(("forecast_", "plane_", "origin_departures"))
    ]
    features += [
        "scheduled_departure_hour",
        "day_of_week",
        "is_weekend",
        "distance_miles",
        "days_to_nearest_holiday",
        "has_plane_record",
    ]
    x = frame[CATEGORICAL + features].copy()
    for column in CATEGORICAL:
        x[column] = x[column].astype("category")
    x[features] = x[features].astype(float)
    cutoff = pd.Timestamp(args.cutoff)
    train = (frame.flight_date < cutoff) & frame.is_delayed.notna()
    mark = time.perf_counter()
    model = HistGradientBoostingClassifier(
        learning_rate=0.05, max_leaf_nodes=31, categorical_features="from_dtype", random_state=0
    ).fit(x[train], frame.is_delayed[train].astype(int))
    seconds["training"] = time.perf_counter() - mark
    mark = time.perf_counter()
    test = frame.flight_date >= cutoff
    scores = model.predict_proba(x[test])[:, 1]
    seconds["scoring"] = time.perf_counter() - mark
    labelled = frame.is_delayed[test].notna().to_numpy()
    auc = (
        roc_auc_score(frame.is_delayed[test][labelled].astype(int), scores[labelled])
        if labelled.any()
        else None
    )
    seconds["total"] = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "seconds": {k: round(v, 2) for k, v in seconds.items()},
                "peak_mb": round(peak_mb),
                "rows": len(frame),
                "scored": int(test.sum()),
                "roc_auc": auc,
            }
        )
    )


if __name__ == "__main__":
    main()
