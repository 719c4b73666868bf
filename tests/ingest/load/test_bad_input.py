"""The bad-input catalogue (docs/ingest.md, "Bad input, catalogued"): for each kind of
broken feed file, what the loader does, the reason a person reads, that the good days still
load, and that no row is lost (rows read = loaded + quarantined, for the broken file and for
every file)."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from ingest.catalog import FEEDS_BY_NAME
from ingest.load.loader import Loader
from ingest.provider.export import export_feeds
from ingest.warehouse import connect

DAY = "2013-01-02"


def _csv_lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def truncated(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])  # cut in the middle of a line


def empty(path: Path) -> None:
    path.write_bytes(b"")


def not_utf8(path: Path) -> None:
    path.write_bytes(path.read_text().encode("utf-16"))


def missing_column(path: Path) -> None:
    frame = pd.read_csv(path, dtype=str)
    frame.drop(columns="dep_delay").to_csv(path, index=False)


def extra_column(path: Path) -> None:
    frame = pd.read_csv(path, dtype=str)
    frame.assign(gate="B12").to_csv(path, index=False)


def renamed_column(path: Path) -> None:
    frame = pd.read_csv(path, dtype=str)
    frame.rename(columns={"arr_delay": "arrival_delay"}).to_csv(path, index=False)


def wrong_types(path: Path) -> None:
    frame = pd.read_csv(path, dtype=str)
    frame.loc[frame.index[:5], "dep_delay"] = "late"
    frame.to_csv(path, index=False)


def duplicated_rows(path: Path) -> None:
    lines = _csv_lines(path)
    _write_lines(path, [*lines, *lines[1:11]])


def out_of_range(path: Path) -> None:
    frame = pd.read_json(path, lines=True, dtype=False)
    frame.loc[frame.index[:2], "temp"] = 500.0  # critical: those readings are quarantined
    frame.loc[frame.index[5], "wind_speed"] = 900.0  # warning only: loaded, reported
    path.write_text(frame.to_json(orient="records", lines=True))


def half_null(path: Path) -> None:
    frame = pd.read_json(path, lines=True, dtype=False)
    frame.loc[frame.index[::2], "temp"] = None
    path.write_text(frame.to_json(orient="records", lines=True))


def tenth_of_the_rows(path: Path) -> None:
    lines = _csv_lines(path)
    _write_lines(path, lines[: 1 + (len(lines) - 1) // 10])


@dataclass
class Case:
    feed: str
    damage: Callable[[Path], None]
    action: str  # quarantine_file | quarantine_rows | load_and_warn
    reason: str  # in the file's reason, a quarantined row's reason, or a failed expectation


CATALOGUE = {
    "truncated": Case("actuals", truncated, "quarantine_rows", "Expected Number of Columns"),
    "empty": Case("schedules", empty, "quarantine_file", "file is empty"),
    "not_utf8": Case("schedules", not_utf8, "quarantine_file", "not UTF-8"),
    "missing_column": Case(
        "actuals", missing_column, "quarantine_file", "missing column(s) dep_delay"
    ),
    "extra_column": Case("actuals", extra_column, "load_and_warn", "extra column(s) ignored: gate"),
    "renamed_column": Case(
        "actuals", renamed_column, "quarantine_file", "missing column(s) arr_delay"
    ),
    "wrong_types": Case(
        "actuals", wrong_types, "quarantine_rows", "dep_delay: 'late' is not a valid SMALLINT"
    ),
    "duplicated_rows": Case(
        "schedules", duplicated_rows, "quarantine_rows", "duplicate natural key"
    ),
    "out_of_range": Case(
        "forecasts",
        out_of_range,
        "quarantine_rows",
        "failed expect_column_values_to_be_between(temp, min_value=-40, max_value=130)",
    ),
    "half_null": Case(
        "forecasts",
        half_null,
        "quarantine_file",
        "day: expect_column_values_to_be_between(temp_null_share, max_value=0.2)",
    ),
    "tenth_of_the_rows": Case(
        "schedules",
        tenth_of_the_rows,
        "quarantine_file",
        "day: expect_column_values_to_be_between(rows_vs_usual, min_value=0.5, max_value=2)",
    ),
}


@pytest.fixture
def world(tmp_path, source):
    landing = tmp_path / "landing"
    export_feeds(landing, until=date(2013, 1, 3), source=source)
    con = connect(tmp_path / "warehouse.duckdb")
    yield tmp_path, landing, con
    con.close()


def _reasons(con, feed: str) -> list[str]:
    files = con.execute(
        "select coalesce(reason, '') from ingest.file_log where feed = ?", [feed]
    ).fetchall()
    rows = con.execute(
        "select reason from ingest.quarantined_rows where feed = ?", [feed]
    ).fetchall()
    return [r for (r,) in files + rows]


@pytest.mark.parametrize("name", sorted(CATALOGUE))
def test_bad_input_is_handled_and_no_row_is_lost(world, name):
    tmp_path, landing, con = world
    case = CATALOGUE[name]
    spec = FEEDS_BY_NAME[case.feed]
    path = next(p for p in landing.glob(spec.pattern) if p.stem == DAY)
    case.damage(path)

    loader = Loader(con, landing, tmp_path / "quarantine", quality=tmp_path / "quality")
    result = loader.load(spec)

    outcome = next(o for o in result.outcomes if o.path.name == path.name)
    assert outcome.rows_read == outcome.rows_loaded + outcome.rows_quarantined
    assert any(case.reason in reason for reason in _reasons(con, case.feed)), _reasons(
        con, case.feed
    )
    if case.action == "quarantine_file":
        assert outcome.status == "quarantined" and outcome.rows_loaded == 0
        assert not path.exists()
        assert list((tmp_path / "quarantine" / case.feed).glob(f"*{path.name}.reason.txt"))
        loaded_days = {
            str(d)
            for (d,) in con.execute(
                f'select distinct "{spec.partition_column}" from {spec.table}'
            ).fetchall()
        }
        assert DAY not in loaded_days
    elif case.action == "quarantine_rows":
        assert outcome.status == "loaded"
        assert outcome.rows_quarantined > 0 and outcome.rows_loaded > 0
    else:
        assert outcome.status == "loaded" and outcome.rows_quarantined == 0
    # Good data still flows: every other day of the feed loaded whole.
    others = [o for o in result.outcomes if o.path.name != path.name]
    assert others and all(o.status == "loaded" and o.rows_quarantined == 0 for o in others)
    # Nothing lost, anywhere: per file, and quarantined rows are all in the table.
    logged = con.execute(
        "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from ingest.file_log"
    ).fetchone()
    assert logged[0] == logged[1] + logged[2]
    in_raw = con.execute(f"select count(*) from {spec.table}").fetchone()[0]
    assert in_raw == result.rows_loaded
    # A file unreadable as a whole is kept whole in quarantine/; every other quarantined row
    # is in ingest.quarantined_rows with its reason.
    kept = con.execute("select count(*) from ingest.quarantined_rows").fetchone()[0]
    kept_as_files = sum(
        o.rows_quarantined
        for o in result.files_quarantined
        if not o.reason.startswith("day failed its expectations")
    )
    assert kept + kept_as_files == result.rows_quarantined


def test_the_same_file_delivered_twice_loads_once(world):
    tmp_path, landing, con = world
    spec = FEEDS_BY_NAME["actuals"]
    loader = Loader(con, landing, tmp_path / "quarantine", quality=tmp_path / "quality")
    first = loader.load(spec)
    path = landing / "actuals" / f"{DAY}.csv"
    path.write_bytes(path.read_bytes())  # re-delivered: new modification time, same bytes

    again = loader.load(spec)

    assert again.outcomes == [] and again.skipped == len(first.outcomes)
    assert con.execute("select count(*) from raw.actuals").fetchone()[0] == first.rows_loaded


def test_a_warning_loads_the_day_and_says_what_was_odd(world):
    tmp_path, landing, con = world
    path = landing / "weather" / f"{DAY}.jsonl"
    frame = pd.read_json(path, lines=True, dtype=False)
    frame.loc[frame.index[3], "wind_speed"] = 1048.36
    path.write_text(frame.to_json(orient="records", lines=True))

    result = Loader(con, landing, tmp_path / "quarantine", quality=tmp_path / "quality").load(
        FEEDS_BY_NAME["weather"]
    )

    validation = result.validation
    assert validation.severity_of(DAY) == "warning"
    assert validation.rejected_partitions() == []
    assert result.rows_quarantined == 0
    summary = validation.summary(DAY)
    assert "wind_speed outside 0..150" in summary and "1048" in summary and "[warning:" in summary
    assert validation.docs is not None and validation.docs.exists()


def test_a_broken_replacement_keeps_the_days_previous_load(world):
    tmp_path, landing, con = world
    spec = FEEDS_BY_NAME["schedules"]
    loader = Loader(con, landing, tmp_path / "quarantine", quality=tmp_path / "quality")
    loader.load(spec)
    before = con.execute(
        "select count(*) from raw.schedules where flight_date = ?", [DAY]
    ).fetchone()[0]
    tenth_of_the_rows(landing / "schedules" / f"{DAY}.csv")

    result = loader.load(spec)

    assert [o.status for o in result.outcomes] == ["quarantined"]
    after = con.execute(
        "select count(*) from raw.schedules where flight_date = ?", [DAY]
    ).fetchone()[0]
    assert after == before > 300
