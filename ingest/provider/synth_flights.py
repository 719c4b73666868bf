"""Synthetic flights of a day for the synthetic feeds (synth.py): what the generator takes
from the real data (routes, times, tails: `profile_of`), the delay model, and the day's
schedules and actuals files written by Arrow."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from ingest.provider.export import ACTUAL_COLUMNS, SCHEDULE_COLUMNS, arrow_csv
from ingest.provider.synth_weather import AIRPORTS

MAX_FLIGHT_NUMBER = 9999
# Destinations missing from the airports reference (Puerto Rico, Virgin Islands): UTC-4, no DST.
UNLISTED_TZ = -4
BLOCK_PADDING_MINUTES = 40

# Delay model (logit scale); calibrated so that 20k to 1M flights give the 2013 rates.
LATE_BASE = -0.6
DELAY_MEDIAN = 18
CANCEL_BASE = -4.55
CANCEL_SLOPE = 1.25
CANCEL_CAP = 0.6
DIVERT_BASE = -5.75


@dataclass(frozen=True)
class Profile:
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


def profile_of(source: dict[str, pd.DataFrame]) -> Profile:
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
    return Profile(
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


def hourly_risk(weather_day: pd.DataFrame) -> tuple[np.ndarray, float]:
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
    """CSV bytes identical to ``export.csv_bytes`` of the same frame (no value here ever
    needs quoting): pandas' writer is the bottleneck at scale."""
    return arrow_csv(pa.table(columns).select(names))


def _labels(indices: np.ndarray, values: pa.Array, mask: np.ndarray | None = None) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32), mask=mask), values)


def flights_of_day(
    profile: Profile,
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
