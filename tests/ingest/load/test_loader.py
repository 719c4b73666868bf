"""The load as a transaction: every row loaded exactly once with its metadata, corrections
replace their day, a crash leaves nothing, bad files and rows are quarantined, the rest loads."""

import subprocess
import sys
import textwrap
from datetime import date

import duckdb
import pytest

import ingest.load.loader as loader_module
from ingest.catalog import FEEDS_BY_NAME
from ingest.load.loader import Loader, ingest_all
from ingest.provider.export import export_feeds
from ingest.warehouse import connect
from tests.ingest.load.support import assert_counts_add_up, count

SCHEDULES = FEEDS_BY_NAME["schedules"]
ACTUALS = FEEDS_BY_NAME["actuals"]
WEATHER = FEEDS_BY_NAME["weather"]


def test_every_landed_row_is_loaded_with_its_load_metadata(world, source):
    landing, quarantine, con = world
    results = ingest_all(con, landing, quarantine, batch_id="batch-1")

    flights = source["flights"]
    expected = int(flights.flight_date.between("2013-01-01", "2013-01-04").sum())
    assert results["schedules"].rows_loaded == expected
    assert count(con, "select count(*) from raw.schedules") == expected
    assert count(con, "select count(distinct _source_file) from raw.schedules") == 4
    assert count(con, "select count(*) from raw.schedules where _batch_id <> 'batch-1'") == 0
    assert count(con, "select count(*) from raw.schedules where length(_content_hash) <> 64") == 0
    assert count(con, "select count(*) from raw.actuals where dep_time is null") == int(
        flights[flights.flight_date <= "2013-01-03"].dep_time.isna().sum()
    )
    assert count(con, "select count(*) from ingest.file_log") == 4 + 3 + 3 + 4 + 3
    assert_counts_add_up(con)


def test_a_moved_data_directory_keeps_its_files_history(world, tmp_path):
    """Files are recorded by their path inside landing/: moved or copied elsewhere (cp -a,
    a new disk), no file is new, so nothing is loaded again and no day is rebuilt. A
    warehouse from before (absolute paths) is rewritten once when it is opened."""
    import shutil

    landing, quarantine, con = world
    ingest_all(con, landing, quarantine)
    sources = {s for (s,) in con.execute("select source_file from ingest.file_log").fetchall()}
    assert "schedules/2013-01-01.csv" in sources and not any(s.startswith("/") for s in sources)
    # As an older flightline wrote it: every path absolute.
    for table, column in [("ingest.file_log", "source_file"), ("raw.schedules", "_source_file")]:
        con.execute(f"update {table} set {column} = ? || '/' || {column}", [str(landing)])
    con.close()

    moved = tmp_path / "elsewhere"
    shutil.move(tmp_path / "landing", moved / "landing")
    shutil.move(tmp_path / "warehouse.duckdb", moved / "warehouse.duckdb")
    con = connect(moved / "warehouse.duckdb")
    try:
        loader = Loader(con, moved / "landing", moved / "quarantine")
        assert all(loader.pending(spec) == [] for spec in FEEDS_BY_NAME.values())
        assert count(con, "select count(*) from ingest.file_log where source_file like '/%'") == 0
        assert count(
            con,
            "select count(*) from raw.schedules where _source_file = 'schedules/2013-01-02.csv'",
        ) == count(con, "select count(*) from raw.schedules where flight_date = '2013-01-02'")
        again = ingest_all(con, moved / "landing", moved / "quarantine")
        assert all(not result.outcomes for result in again.values())
    finally:
        con.close()


def test_a_file_already_loaded_is_skipped(world):
    landing, quarantine, con = world
    ingest_all(con, landing, quarantine)
    again = ingest_all(con, landing, quarantine)

    assert all(result.outcomes == [] for result in again.values())
    assert again["schedules"].skipped == 4
    assert count(con, "select count(*) from raw.schedules") == count(
        con, "select sum(rows_loaded) from ingest.file_log where feed = 'schedules'"
    )


def test_corrected_file_replaces_its_partition(world):
    landing, quarantine, con = world
    ingest_all(con, landing, quarantine)
    path = landing / "actuals" / "2013-01-02.csv"
    lines = path.read_text().splitlines()
    header, rows = lines[0], lines[1:]
    # The provider re-publishes the day: one flight fewer, and one delay corrected.
    first = rows[0].split(",")
    first[7] = "999"
    corrected = [header, ",".join(first), *rows[2:]]
    path.write_text("\n".join(corrected) + "\n")

    result = Loader(con, landing, quarantine).load(ACTUALS)

    assert [o.status for o in result.outcomes] == ["loaded"]
    day = "flight_date = '2013-01-02'"
    assert count(con, f"select count(*) from raw.actuals where {day}") == len(rows) - 1
    assert count(con, f"select count(*) from raw.actuals where {day} and arr_delay = 999") == 1
    assert count(con, f"select count(distinct _content_hash) from raw.actuals where {day}") == 1
    assert count(con, "select count(*) from raw.actuals where flight_date <> '2013-01-02'") > 0


def test_a_crash_half_way_leaves_no_partial_rows(world, monkeypatch):
    landing, quarantine, con = world

    def crash():
        raise RuntimeError("power cut")

    monkeypatch.setattr(loader_module, "_after_rows_written", crash)
    with pytest.raises(RuntimeError, match="power cut"):
        Loader(con, landing, quarantine).load(SCHEDULES)

    assert count(con, "select count(*) from raw.schedules") == 0
    assert count(con, "select count(*) from ingest.file_log") == 0
    monkeypatch.undo()
    # The next attempt loads everything, exactly once.
    result = Loader(con, landing, quarantine).load(SCHEDULES)
    assert count(con, "select count(*) from raw.schedules") == result.rows_loaded > 0


def test_a_killed_process_leaves_no_partial_rows(tmp_path, source):
    landing = tmp_path / "landing"
    export_feeds(landing, until=date(2013, 1, 2), source=source)
    warehouse = tmp_path / "warehouse.duckdb"
    script = textwrap.dedent(
        f"""
        import os
        from pathlib import Path
        import ingest.load.loader as loader
        import ingest.warehouse as warehouse
        from ingest.catalog import FEEDS_BY_NAME
        con = warehouse.connect(Path({str(warehouse)!r}))
        loader._after_rows_written = lambda: os._exit(9)
        loader.Loader(con, Path({str(landing)!r}), Path({str(tmp_path / "q")!r})).load(
            FEEDS_BY_NAME["schedules"]
        )
        """
    )
    completed = subprocess.run([sys.executable, "-c", script], check=False)
    assert completed.returncode == 9

    con = duckdb.connect(str(warehouse))
    assert count(con, "select count(*) from raw.schedules") == 0
    assert count(con, "select count(*) from ingest.file_log") == 0


def test_unreadable_files_are_quarantined_and_good_files_keep_loading(world):
    landing, quarantine, con = world
    (landing / "schedules" / "2013-01-05.csv").write_bytes(b"")
    (landing / "schedules" / "2013-01-06.csv").write_bytes(b"\xff\xfe\x00garbage\n1,2\n")
    (landing / "schedules" / "2013-01-07.csv").write_text(
        "flight_date,carrier,flight,origin\n2013-01-07,UA,1,EWR\n"
    )
    (landing / "schedules" / "not-a-date.csv").write_text("x\n")

    result = Loader(con, landing, quarantine).load(SCHEDULES)

    reasons = {o.path.name: o.reason for o in result.files_quarantined}
    assert set(reasons) == {"2013-01-05.csv", "2013-01-06.csv", "2013-01-07.csv", "not-a-date.csv"}
    assert reasons["2013-01-05.csv"] == "file is empty"
    assert "UTF-8" in reasons["2013-01-06.csv"]
    assert "missing column(s) dest, tailnum" in reasons["2013-01-07.csv"]
    assert "YYYY-MM-DD" in reasons["not-a-date.csv"]
    # Moved out of landing, with the reason beside each file.
    assert not (landing / "schedules" / "2013-01-06.csv").exists()
    moved = sorted(p.name for p in (quarantine / "schedules").iterdir())
    assert len(moved) == 8 and sum(name.endswith(".reason.txt") for name in moved) == 4
    # The four good days loaded anyway.
    assert count(con, "select count(distinct flight_date) from raw.schedules") == 4
    assert count(con, "select count(*) from ingest.file_log where status = 'quarantined'") == 4
    assert_counts_add_up(con)


def test_bad_rows_are_quarantined_with_their_reason(world):
    landing, quarantine, con = world
    path = landing / "schedules" / "2013-01-02.csv"
    lines = path.read_text().splitlines()
    good = lines[1].split(",")
    bad_number = good.copy()
    bad_number[2] = "12x"
    no_carrier = good.copy()
    no_carrier[1] = ""
    other_day = good.copy()
    other_day[0] = "2013-01-09"
    other_day[2] = "7777"
    extra_field = lines[3] + ",surprise"
    path.write_text(
        "\n".join(
            [
                lines[0],
                *lines[1:],
                ",".join(bad_number),
                ",".join(no_carrier),
                ",".join(other_day),
                lines[1],
                extra_field,
            ]
        )
        + "\n"
    )

    result = Loader(con, landing, quarantine).load(SCHEDULES)
    outcome = next(o for o in result.outcomes if o.path == path)

    assert outcome.status == "loaded"
    assert outcome.rows_read == len(lines) - 1 + 5
    assert outcome.rows_loaded == len(lines) - 1
    assert outcome.rows_quarantined == 5
    reasons = [
        r
        for (r,) in con.execute(
            "select reason from ingest.quarantined_rows order by row_number"
        ).fetchall()
    ]
    assert any("flight: '12x' is not a valid INTEGER" in r for r in reasons)
    assert any("carrier is required" in r for r in reasons)
    assert any("is not the file's date 2013-01-02" in r for r in reasons)
    assert any("duplicate natural key" in r for r in reasons)
    assert any("TOO MANY COLUMNS" in r for r in reasons)
    assert_counts_add_up(con)


def test_a_rejected_day_keeps_its_previous_rows_and_a_reload_replaces_them(world):
    """The new rows of a day are checked beside the old ones in one transaction: a file
    that fails whole leaves the previous load as it was; one that loads replaces it."""
    landing, quarantine, con = world
    Loader(con, landing, quarantine).load(SCHEDULES)
    day = "select count(*), min(_batch_id) from raw.schedules where flight_date = '2013-01-02'"
    before = con.execute(day).fetchone()
    path = landing / "schedules" / "2013-01-02.csv"
    lines = path.read_text().splitlines()

    path.write_text("\n".join([lines[0].replace("dest", "destination"), *lines[1:]]) + "\n")
    Loader(con, landing, quarantine, batch_id="broken").load(SCHEDULES)
    assert con.execute(day).fetchone() == before

    path.write_text("\n".join(lines[:-1]) + "\n")
    Loader(con, landing, quarantine, batch_id="fixed").load(SCHEDULES)
    assert con.execute(day).fetchone() == (before[0] - 1, "fixed")
    assert_counts_add_up(con)


def test_a_truncated_json_line_is_quarantined_and_the_rest_loads(world):
    landing, quarantine, con = world
    path = landing / "weather" / "2013-01-02.jsonl"
    content = path.read_text()
    path.write_text(content + '{"origin":"EWR","time_hour":"2013-01-03T04:00:00Z","obs_da')

    result = Loader(con, landing, quarantine).load(WEATHER)
    outcome = next(o for o in result.outcomes if o.path == path)

    assert outcome.rows_loaded == len(content.splitlines())
    assert outcome.rows_quarantined == 1
    assert (
        count(con, "select count(*) from ingest.quarantined_rows where reason like '%not a JSON%'")
        == 1
    )
    assert_counts_add_up(con)


def test_the_same_content_under_another_name_is_not_loaded_twice(world):
    landing, quarantine, con = world
    ingest_all(con, landing, quarantine)
    before = count(con, "select count(*) from raw.planes")
    copy = landing / "reference" / "planes-copy.parquet"
    copy.write_bytes((landing / "reference" / "planes.parquet").read_bytes())
    spec = FEEDS_BY_NAME["planes"]
    widened = type(spec)(**{**spec.__dict__, "pattern": "reference/planes*.parquet"})

    result = Loader(con, landing, quarantine).load(widened)

    assert [o.status for o in result.outcomes] == ["duplicate"]
    assert count(con, "select count(*) from raw.planes") == before


def test_pending_lists_only_files_not_yet_loaded(world):
    landing, quarantine, con = world
    loader = Loader(con, landing, quarantine)
    assert len(loader.pending(SCHEDULES)) == 4
    loader.load(SCHEDULES)
    assert loader.pending(SCHEDULES) == []
    (landing / "schedules" / "2013-01-02.csv").write_text(
        (landing / "schedules" / "2013-01-02.csv").read_text() + "\n"
    )
    assert [p.name for p in loader.pending(SCHEDULES)] == ["2013-01-02.csv"]


def test_a_file_not_named_by_a_date_is_taken_by_every_partitioned_load(world):
    landing, quarantine, con = world
    (landing / "schedules" / "schedules-final.csv").write_text("x\n")

    result = Loader(con, landing, quarantine).load(SCHEDULES, partitions={"2013-01-02"})

    assert {o.path.name: o.status for o in result.outcomes} == {
        "2013-01-02.csv": "loaded",
        "schedules-final.csv": "quarantined",
    }
    assert (quarantine / "schedules").exists()
