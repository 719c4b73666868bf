"""A file's header (ingest/load/headers.py): its names never become SQL, and a quote or a
control character in it quarantines the file."""

import csv

import pytest

from ingest.catalog import FEEDS_BY_NAME
from ingest.load.loader import Loader, ingest_all
from tests.ingest.load.support import counts_add_up, digests

ACTUALS = FEEDS_BY_NAME["actuals"]


INJECTIONS = [
    # Closes the columns struct and the read, then runs statements of its own.
    "x': 'VARCHAR'}); delete from raw.weather; copy (select 42) to '{target}'; "
    "select * from read_csv('{target}', columns={'y",
    'x"; delete from raw.weather; --',
    "x'); copy (select 42) to '{target}' (format csv); --",
]


@pytest.mark.parametrize("payload", INJECTIONS)
@pytest.mark.parametrize("unparseable", [False, True])
def test_a_column_name_in_a_csv_header_never_runs_as_sql(
    loaded_world, tmp_path, payload, unparseable
):
    home, landing, con = loaded_world
    target = tmp_path / "pwned.csv"
    before = digests(con)
    path = landing / "actuals" / "2013-01-04.csv"
    header, *rows = path.read_text().splitlines()
    payload = payload.replace("{target}", str(target))
    header = f"{header},{payload}"
    extra = len(next(csv.reader([payload])))  # the payload's commas make columns too
    rows = [row + ",1" * extra for row in rows]
    if unparseable:  # the probe of an unreadable file ran outside the load's transaction
        rows.append('2013-01-04,"unterminated')
    path.write_text("\n".join([header, *rows]) + "\n")

    result = Loader(con, landing, home / "quarantine").load(ACTUALS)

    assert not target.exists()
    after = digests(con)
    assert {t: d for t, d in after.items() if t != ACTUALS.table} == {
        t: d for t, d in before.items() if t != ACTUALS.table
    }
    (outcome,) = result.outcomes
    assert outcome.rows_read == len(rows)
    assert outcome.rows_loaded + outcome.rows_quarantined == outcome.rows_read
    if '"' in payload:  # a quote in a header: the file is refused as a whole
        assert outcome.status == "quarantined" and "quote character" in outcome.reason
    elif not unparseable:
        assert outcome.status == "loaded" and outcome.rows_loaded == len(rows)
        assert "extra column(s) ignored" in outcome.reason
    counts_add_up(con)


def test_a_quote_in_a_csv_header_quarantines_the_file(loaded_world):
    """An unclosed quote in the header made DuckDB and Python alike read the whole file as
    one header: zero records, and the day replaced by nothing (found by the fuzzer)."""
    home, landing, con = loaded_world
    path = landing / "actuals" / "2013-01-04.csv"
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([header + ',"', *(row + ",1" for row in rows)]) + "\n")

    (outcome,) = Loader(con, landing, home / "quarantine").load(ACTUALS).outcomes

    assert outcome.status == "quarantined" and "quote character" in outcome.reason
    assert outcome.rows_read == outcome.rows_quarantined


@pytest.mark.parametrize("bad", ["\r'", "a\x00b", "x\x1b[31m"])
def test_a_control_character_in_a_csv_header_quarantines_the_file(loaded_world, bad):
    """A carriage return in the header stopped the whole load with a csv.Error (found by the
    fuzzer); readers disagree where such a header ends."""
    home, landing, con = loaded_world
    path = landing / "actuals" / "2013-01-04.csv"
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([f"{header},{bad}", *(row + ",1" for row in rows)]) + "\n")
    other = landing / "schedules" / "2013-01-04.csv"

    results = ingest_all(con, landing, home / "quarantine")

    (outcome,) = results["actuals"].outcomes
    assert outcome.status == "quarantined" and "control character" in outcome.reason
    assert [o.path for o in results["schedules"].outcomes] == [other]
