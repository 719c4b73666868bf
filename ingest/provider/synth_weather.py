"""Synthetic weather for the synthetic feeds (synth.py): per airport and local hour, on the
real UTC hour grid, calibrated on 2013 (see synth.py's docstring); the forecasts are the same
values, as in the real feed."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

AIRPORTS = ("EWR", "JFK", "LGA")
NEW_YORK = ZoneInfo("America/New_York")
VISIBILITY_LEVELS = np.array(
    [0, 0.06, 0.12, 0.25, 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 2.5, 3, 4, 5, 6, 7, 8, 9, 10.0]
)
MPH_PER_KNOT = 1.15078


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


def hourly_weather(days: list[date], rng: np.random.Generator) -> pd.DataFrame:
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
