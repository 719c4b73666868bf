import json
import subprocess
import sys
import textwrap
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

import ingest.load.candidates as candidates_module
import ingest.load.insert as insert_module
import ingest.load.loader as loader_module
from ingest.catalog import FEEDS_BY_NAME
from ingest.landing import stage
from ingest.load.loader import Loader, ingest_all
from ingest.provider.export import export_feeds
from ingest.warehouse import connect

SCHEDULES = FEEDS_BY_NAME["schedules"]
ACTUALS = FEEDS_BY_NAME["actuals"]
WEATHER = FEEDS_BY_NAME["weather"]


@pytest.fixture
def world(tmp_path, source):
    """Three days of real feeds, and an open warehouse."""
    landing = tmp_path / "landing"
    export_feeds(landing, until=date(2013, 1, 3), source=source)
    con = connect(tmp_path / "warehouse.duckdb")
    yield landing, tmp_path / "quarantine", con
    con.close()


def count(con, sql):
    return con.execute(sql).fetchone()[0]


def assert_counts_add_up(con):
    bad = con.execute(
        """
        select source_file, rows_read, rows_loaded, rows_quarantined from ingest.file_log
        where rows_read <> rows_loaded + rows_quarantined
        """
    ).fetchall()
    assert bad == []
    quarantined = count(con, "select count(*) from ingest.quarantined_rows")
    logged = count(
        con,
        "select coalesce(sum(rows_quarantined), 0) from ingest.file_log where status = 'loaded'",
    )
    assert quarantined == logged


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


def quarantined_rows(con):
    return dict(con.execute("select row_number, reason from ingest.quarantined_rows").fetchall())


def test_rows_are_numbered_in_file_order_past_thousands_of_rows(world):
    """_row_number is the record's place in its file. DuckDB's row_number() over (partition
    by filename) is not: past ~2,000 rows it numbers a file's rows out of order, which put
    the wrong row number on quarantined rows and loaded the wrong one of two duplicates."""
    landing, quarantine, con = world
    path = landing / "schedules" / "2013-01-02.csv"
    header, first = path.read_text().splitlines()[:2]
    fields = first.split(",")
    flight = header.split(",").index("flight")
    dep_time = header.split(",").index("sched_dep_time")
    rows = []
    for position in range(1, 6001):  # the flight number says where the row is
        fields[flight] = str(position)
        rows.append(",".join(fields))
    rows[2999] = rows[2999].replace(f",{fields[dep_time]},", ",soon,", 1)  # reader rejects
    rows[4499] = rows[9]  # a second flight 10: a duplicate key, the later row is quarantined
    path.write_text("\n".join([header, *rows]) + "\n")

    result = Loader(con, landing, quarantine).load(SCHEDULES)

    outcome = next(o for o in result.outcomes if o.path == path)
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (6000, 5998, 2)
    misnumbered = count(
        con,
        f"select count(*) from raw.schedules where _source_file = 'schedules/{path.name}' "
        "and _row_number <> flight",
    )
    assert misnumbered == 0
    quarantined = quarantined_rows(con)
    assert set(quarantined) == {3000, 4500}
    assert "sched_dep_time: 'soon' is not a valid SMALLINT" in quarantined[3000]
    assert quarantined[4500].startswith("duplicate natural key")
    assert_counts_add_up(con)


def file_order(con, table, path, column):
    return [
        str(value)
        for (value,) in con.execute(
            f"select {column} from {table} where _source_file = ? order by _row_number",
            [f"{path.parent.name}/{path.name}"],  # as recorded: inside landing/
        ).fetchall()
    ]


def misnumbered_files(con, table):
    return con.execute(
        f"""
        select count(*) from (
            select count(*) as n, min(_row_number) as first, max(_row_number) as last
            from {table} group by _source_file
        ) where first <> 1 or last <> n
        """
    ).fetchone()[0]


def test_csv_rows_are_numbered_from_counts_known_before_the_read(world, monkeypatch):
    """A CSV file's record count is read off its bytes while it is hashed, and the rows are
    numbered from the counts without a window over them."""
    landing, quarantine, con = world
    path = landing / "actuals" / "2013-01-02.csv"
    header, *rows = path.read_text().splitlines()
    flight = header.split(",").index("flight")
    rows = [row.split(",") for row in rows]
    lines = []
    for position in range(5000):  # past the size where a window numbered out of order
        fields = rows[position % len(rows)].copy()
        fields[flight] = str(10_000 + position)
        lines.append(",".join(fields))
    path.write_text("\n".join([header, *lines]) + "\n")
    counted = []
    insert_counted = insert_module.insert_counted

    def recording(batch, target, names, reader, paths, params):
        counted.append([str(p) for p in paths])
        return insert_counted(batch, target, names, reader, paths, params)

    monkeypatch.setattr(insert_module, "insert_counted", recording)

    result = Loader(con, landing, quarantine).load(ACTUALS)

    assert result.rows_quarantined == 0 and len(counted) == 1 and len(counted[0]) == 3
    assert file_order(con, "raw.actuals", path, "flight") == [
        line.split(",")[flight] for line in lines
    ]
    assert misnumbered_files(con, "raw.actuals") == 0
    # DuckDB's setting, off for the insert, is as it was.
    assert con.execute("select current_setting('preserve_insertion_order')").fetchone()[0]


@pytest.mark.parametrize("wrong", ["a blank line", "a count too low"])
def test_files_after_a_wrong_count_in_their_scan_are_numbered_again(world, monkeypatch, wrong):
    """The first day's count is wrong (DuckDB skips a blank line inside a file; a count too
    low stands for what else could be), and it is read in one scan with the next days,
    whose offsets are then wrong too: their numbers are moved back after the read."""
    landing, quarantine, con = world
    con.execute("set threads = 1")  # one scan: the days after the first follow it there
    first_day = landing / "actuals" / "2013-01-01.csv"
    if wrong == "a blank line":
        header, *rows = first_day.read_text().splitlines()
        first_day.write_text("\n".join([header, *rows[:5], "", *rows[5:]]) + "\n")
    else:

        def miscounted(file, spec):
            found = stage(file, spec)
            return replace(found, records=found.records - 3) if file == first_day else found

        monkeypatch.setattr(candidates_module, "stage", miscounted)
    days = sorted((landing / "actuals").glob("*.csv"))
    expected = {day: [line.split(",")[2] for line in day.read_text().split()[1:]] for day in days}

    result = Loader(con, landing, quarantine).load(ACTUALS)

    assert misnumbered_files(con, "raw.actuals") == 0
    if wrong == "a count too low":
        # The count is also what the file's records are checked against: a file whose
        # records DuckDB does not all account for is quarantined whole.
        (held,) = result.files_quarantined
        assert held.path == first_day and "returned 842 of the 839 records" in held.reason
        days = days[1:]
    else:
        assert result.rows_quarantined == 0
    for day in days:  # every day's rows in its file's order (flight numbers, third column)
        assert file_order(con, "raw.actuals", day, "flight") == expected[day]
    assert_counts_add_up(con)


def test_json_lines_are_numbered_in_file_order_around_the_lines_that_fail(world):
    landing, quarantine, con = world
    path = landing / "weather" / "2013-01-02.jsonl"
    record = json.loads(path.read_text().splitlines()[0])
    lines = []
    for position in range(1, 5001):  # temp says where the line is; no two share an hour
        record["temp"] = position  # (nor with the other days' files: a millisecond past one)
        record["time_hour"] = (
            datetime(2013, 1, 2, 12, tzinfo=UTC) + timedelta(milliseconds=position)
        ).isoformat()
        lines.append(json.dumps(record).encode())
    lines[2999] = lines[2999].replace(b'"EWR"', b'"\xff\xfe"')  # invalid UTF-8
    lines[3499] = b"[1, 2]"  # not an object
    lines[4499] = lines[9].replace(b'"temp": 10', b'"temp": 4500')  # the hour of line 10
    path.write_bytes(b"\n".join(lines) + b"\n")

    result = Loader(con, landing, quarantine).load(FEEDS_BY_NAME["weather"])

    outcome = next(o for o in result.outcomes if o.path == path)
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (5000, 4997, 3)
    misnumbered = count(
        con,
        f"select count(*) from raw.weather where _source_file = 'weather/{path.name}' "
        "and _row_number <> temp",
    )
    assert misnumbered == 0
    quarantined = quarantined_rows(con)
    assert set(quarantined) == {3000, 3500, 4500}
    assert quarantined[3000].startswith("INVALID ENCODING")
    assert quarantined[3500] == "line is not a JSON object"
    assert quarantined[4500].startswith("duplicate natural key")
    assert_counts_add_up(con)


def test_a_line_with_several_errors_is_one_quarantined_row_with_every_reason(world):
    """DuckDB's reader records one reject per bad value (and one per missing column of a
    short line): the loader counts and quarantines the line once."""
    landing, quarantine, con = world
    path = landing / "actuals" / "2013-01-02.csv"
    lines = path.read_text().splitlines()
    fields = lines[1].split(",")
    fields[4], fields[5] = "soon", "late"
    path.write_text("\n".join([*lines, ",".join(fields), lines[2].rsplit(",", 3)[0]]) + "\n")

    result = Loader(con, landing, quarantine).load(ACTUALS)
    outcome = next(o for o in result.outcomes if o.path == path)

    assert (outcome.rows_read, outcome.rows_quarantined) == (len(lines) - 1 + 2, 2)
    reasons = [r for (r,) in con.execute("select reason from ingest.quarantined_rows").fetchall()]
    assert (
        "dep_time: 'soon' is not a valid SMALLINT; dep_delay: 'late' is not a valid SMALLINT"
        in (reasons)
    )
    assert any(r.startswith("MISSING COLUMNS") for r in reasons)
    assert_counts_add_up(con)


def test_clean_files_are_read_once_without_the_rejects_table(world, monkeypatch):
    """The usual load reads each CSV group once, strictly (DuckDB's rejects table costs ~20%
    of the read); a group with a line that does not fit is read a second time, keeping its
    rejects, and only that feed's."""
    landing, quarantine, con = world
    path = landing / "actuals" / "2013-01-02.csv"
    lines = path.read_text().splitlines()
    fields = lines[1].split(",")
    fields[4] = "soon"  # dep_time
    path.write_text("\n".join([*lines, ",".join(fields)]) + "\n")
    reads = []
    reader = insert_module.csv_reader

    def recording(paths, columns, spec, rejects=True):
        # One read of a group is a few parallel scans (numbering.numbered), each of some files.
        if reads and reads[-1][:2] == (spec.name, rejects) and not set(paths) & reads[-1][2]:
            reads[-1][2].update(paths)
        else:
            reads.append((spec.name, rejects, set(paths)))
        return reader(paths, columns, spec, rejects)

    monkeypatch.setattr(insert_module, "csv_reader", recording)
    loader = Loader(con, landing, quarantine)
    loader.load(SCHEDULES)
    result = loader.load(ACTUALS)
    outcome = next(o for o in result.outcomes if o.path == path)

    assert [(feed, rejects) for feed, rejects, _ in reads] == [
        ("schedules", False),
        ("actuals", False),
        ("actuals", True),
    ]
    files = {feed: len(list((landing / feed).glob("*.csv"))) for feed in ("schedules", "actuals")}
    assert [len(paths) for _, _, paths in reads] == [  # every file of the feed
        files["schedules"],
        files["actuals"],
        files["actuals"],
    ]
    # The strict read that failed had DuckDB's preserve_insertion_order off: it is back on.
    assert con.execute("select current_setting('preserve_insertion_order')").fetchone()[0]
    assert (outcome.rows_read, outcome.rows_loaded, outcome.rows_quarantined) == (
        len(lines),
        len(lines) - 1,
        1,
    )
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


def test_a_file_duckdb_fails_on_mid_read_is_quarantined_and_the_rest_loads(world):
    """A Parquet file whose footer reads but whose data does not (a bad page) fails the
    load's insert, which aborts DuckDB's transaction: the loader rolls back, finds the file
    by reading each alone, quarantines it and loads the others in a new transaction."""
    landing, quarantine, con = world
    good = landing / "reference" / "planes.parquet"
    data = bytearray(good.read_bytes())
    data[64:2000] = bytes((byte * 7 + 13) % 256 for byte in data[64:2000])
    (landing / "reference" / "planes-damaged.parquet").write_bytes(bytes(data))
    spec = FEEDS_BY_NAME["planes"]
    widened = type(spec)(**{**spec.__dict__, "pattern": "reference/planes*.parquet"})

    result = Loader(con, landing, quarantine).load(widened)

    statuses = {o.path.name: (o.status, o.reason or "") for o in result.outcomes}
    assert statuses["planes.parquet"][0] == "loaded"
    assert statuses["planes-damaged.parquet"][0] == "quarantined"
    assert "cannot be parsed as parquet" in statuses["planes-damaged.parquet"][1]
    # The loader's connection may read only its staging copies: count with another.
    assert count(con, "select count(*) from raw.planes") == count(
        duckdb.connect(), f"select count(*) from read_parquet('{good}')"
    )
    assert list((quarantine / "planes").glob("*planes-damaged.parquet.reason.txt"))
    assert_counts_add_up(con)


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


def test_an_invalid_utf8_row_is_quarantined_and_an_extra_column_is_ignored(world):
    landing, quarantine, con = world
    path = landing / "schedules" / "2013-01-02.csv"
    lines = path.read_bytes().splitlines()
    fields = lines[2].split(b",")
    fields[1] = b"\xff\xfe"
    lines[2] = b",".join(fields)
    path.write_bytes(b"\n".join(lines) + b"\n")
    other = landing / "schedules" / "2013-01-03.csv"
    rows = other.read_text().splitlines()
    other.write_text("\n".join([rows[0] + ",surprise", *(row + ",x" for row in rows[1:])]) + "\n")

    result = Loader(con, landing, quarantine).load(SCHEDULES)
    outcomes = {o.path.name: o for o in result.outcomes}

    bad_encoding = outcomes["2013-01-02.csv"]
    assert bad_encoding.status == "loaded"
    assert bad_encoding.rows_quarantined == 1
    assert bad_encoding.rows_loaded == len(lines) - 2
    assert (
        count(
            con,
            "select count(*) from ingest.quarantined_rows where reason like 'INVALID ENCODING%'",
        )
        == 1
    )
    extra = outcomes["2013-01-03.csv"]
    assert extra.status == "loaded" and extra.rows_loaded == len(rows) - 1
    assert extra.reason == "extra column(s) ignored: surprise"
    assert_counts_add_up(con)


@pytest.mark.parametrize(
    ("content", "records"),
    [
        (b"a,b\n1,x\n2,y\n", 2),
        (b"a,b\n1,x\n2,y", 2),  # no newline at the end
        (b"\xef\xbb\xbfa,b\n1,x\n", 1),  # a byte order mark
        (b"a,b\r\n1,x\r\n", 1),
        (b"a,b\n1,x\n2,y\n\n\n", 2),  # blank lines at the end
        (b"a,b\r\n1,x\r\n\r\n", 1),
        (b"a,b\n", 0),
        (b"a,b", 0),
        (b'a,b\n1,"x, y"\n,\n', 2),
        (b'a,b\n1,"x\ny"\n', 1),  # a quoted newline
        (b"a,b\n1,x\n\n2,y\n", 2),  # DuckDB skips a blank line
        (b'a,b\n1,"say ""hi""\n and go"\n2,y\n', 2),
    ],
)
def test_a_files_records_are_counted_without_duckdb_as_duckdb_reads_them(
    tmp_path, content, records
):
    path = tmp_path / "file.csv"
    path.write_bytes(content)

    read = (
        duckdb.connect()
        .execute(
            f"select count(*) from read_csv('{path}', header=true, auto_detect=false, "
            "columns={'a': 'VARCHAR', 'b': 'VARCHAR'})"
        )
        .fetchone()[0]
    )

    assert (stage(path, ACTUALS).records, read) == (records, records)
