"""Reading files into the table (ingest/load/insert.py): DuckDB's rejects, the strict first
read and the second, a file DuckDB cannot read, and records counted as DuckDB reads them."""

import duckdb
import pytest

import ingest.load.insert as insert_module
from ingest.catalog import FEEDS_BY_NAME
from ingest.landing import stage
from ingest.load.loader import Loader
from tests.ingest.load.support import assert_counts_add_up, count

SCHEDULES = FEEDS_BY_NAME["schedules"]
ACTUALS = FEEDS_BY_NAME["actuals"]


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
