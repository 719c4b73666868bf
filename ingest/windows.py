"""Decisions about which dates a run covers, as plain functions."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date


def dbt_window_vars(start: str | date, end: str | date) -> dict[str, str]:
    """The --vars of a dbt run over the inclusive flight-date window [start, end]."""
    start, end = date.fromisoformat(str(start)), date.fromisoformat(str(end))
    if start > end:
        raise ValueError(f"window start {start} is after its end {end}")
    return {"start_date": start.isoformat(), "end_date": end.isoformat()}


def dbt_build_args(start: str | date, end: str | date) -> list[str]:
    """`dbt build` by hand over a window: what an analytics engineer types."""
    return ["build", "--vars", json.dumps(dbt_window_vars(start, end))]


def dbt_window_env(start: str | date, end: str | date) -> dict[str, str]:
    """The window as environment variables, the way Dagster passes it: the macros read them
    only when dbt executes, so dbt's partial parsing survives from one run to the next.
    (Any change of --vars makes dbt re-parse the whole project: ~5 s per invocation.)"""
    return {f"FLIGHTLINE_DBT_{k.upper()}": v for k, v in dbt_window_vars(start, end).items()}


def partition_range(partitions: Iterable[str]) -> tuple[str, str] | None:
    """The smallest inclusive range covering some daily partitions (one backfill run)."""
    keys = sorted(set(partitions))
    return (keys[0], keys[-1]) if keys else None


def contiguous_ranges(partitions: Iterable[str]) -> list[tuple[str, str]]:
    """Consecutive dates grouped into inclusive ranges: ['01-01', '01-02', '01-05'] gives
    two runs, so that a day left out (blocked by a gate) is not swept into a range."""
    days = sorted({date.fromisoformat(str(day)) for day in partitions})
    ranges: list[tuple[str, str]] = []
    for day in days:
        if ranges and (day - date.fromisoformat(ranges[-1][1])).days == 1:
            ranges[-1] = (ranges[-1][0], day.isoformat())
        else:
            ranges.append((day.isoformat(), day.isoformat()))
    return ranges
