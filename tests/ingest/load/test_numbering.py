"""Every row's _row_number is its place in its file (ingest/load/numbering.py): past
thousands of rows, from counts known before the read, after a wrong count, around rejects."""

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

import ingest.load.candidates as candidates_module
import ingest.load.insert as insert_module
from ingest.catalog import FEEDS_BY_NAME
from ingest.landing import stage
from ingest.load.loader import Loader
from tests.ingest.load.support import (
    assert_counts_add_up,
    count,
    file_order,
    misnumbered_files,
    quarantined_rows,
)

SCHEDULES = FEEDS_BY_NAME["schedules"]
ACTUALS = FEEDS_BY_NAME["actuals"]


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
