"""Quarantine (ingest/load/quarantine.py), against hostile input too: a correction with
failing rows is held whole and its day stays, files kept under names that fit, not
world-readable."""

import os

from ingest.catalog import FEEDS_BY_NAME
from ingest.load.loader import Loader, ingest_all
from tests.ingest.load.support import counts_add_up, day_rows, table_digest

ACTUALS = FEEDS_BY_NAME["actuals"]


def test_a_correction_with_failing_rows_is_held_and_the_good_day_stays(loaded_world):
    home, landing, con = loaded_world
    path = landing / "actuals" / "2013-01-03.csv"
    (landing / "actuals" / "2013-01-04.csv").unlink()
    before = table_digest(con, "raw.actuals")
    labelled = day_rows(con, "raw.actuals", "flight_date", "2013-01-03")
    header, *rows = path.read_text().splitlines()
    garbage = [",".join(["2013-01-03", "ZZ", "x", "EWR", "late", "", "", "", ""])] * (
        len(rows) // 2
    )
    path.write_text("\n".join([header, *rows[: len(rows) // 2], *garbage]) + "\n")
    quarantine = home / "quarantine"

    result = Loader(con, landing, quarantine).load(ACTUALS)

    (outcome,) = [o for o in result.outcomes if o.path == path]
    assert outcome.status == "quarantined" and outcome.reason.startswith("correction held")
    assert "flightline ingest --accept" in outcome.reason
    assert table_digest(con, "raw.actuals") == before
    assert day_rows(con, "raw.actuals", "flight_date", "2013-01-03") == labelled
    counts_add_up(con)

    # The operator accepts that file: its good rows replace the day, the rest quarantined.
    from ingest.load.quarantine import accept

    (kept,) = (quarantine / "actuals").glob(f"*{path.name}")
    assert accept(con, landing, quarantine, kept) == path
    again = Loader(con, landing, quarantine).load(ACTUALS)
    (reloaded,) = again.outcomes
    assert reloaded.status == "loaded" and reloaded.rows_loaded == len(rows) // 2
    assert day_rows(con, "raw.actuals", "flight_date", "2013-01-03") == len(rows) // 2
    counts_add_up(con)


def test_a_clean_correction_still_replaces_its_day(loaded_world):
    home, landing, con = loaded_world
    path = landing / "actuals" / "2013-01-03.csv"
    header, *rows = path.read_text().splitlines()
    path.write_text("\n".join([header, *rows[:-1]]) + "\n")

    result = Loader(con, landing, home / "quarantine").load(ACTUALS)

    assert [o.status for o in result.outcomes if o.path == path] == ["loaded"]
    assert day_rows(con, "raw.actuals", "flight_date", "2013-01-03") == len(rows) - 1


def test_a_correction_that_would_empty_a_day_is_held(loaded_world):
    home, landing, con = loaded_world
    (landing / "actuals" / "2013-01-04.csv").unlink()
    path = landing / "actuals" / "2013-01-03.csv"
    before = day_rows(con, "raw.actuals", "flight_date", "2013-01-03")
    path.write_text(path.read_text().splitlines()[0] + "\n")  # the header alone

    (outcome,) = Loader(con, landing, home / "quarantine").load(ACTUALS).outcomes

    assert outcome.status == "quarantined" and "would empty the day 2013-01-03" in outcome.reason
    assert day_rows(con, "raw.actuals", "flight_date", "2013-01-03") == before > 0


def test_a_file_name_too_long_for_quarantine_is_quarantined_under_a_shorter_one(loaded_world):
    home, landing, con = loaded_world
    name = "x" * 243 + ".csv"
    (landing / "actuals" / name).write_text("not,a,feed\n1,2,3\n")

    results = ingest_all(con, landing, home / "quarantine")

    (outcome,) = [o for o in results["actuals"].outcomes if o.path.name == name]
    assert outcome.status == "quarantined" and "left in landing" not in outcome.reason
    assert not (landing / "actuals" / name).exists()
    assert [o.status for o in results["weather"].outcomes] == ["loaded"]  # later feeds ran
    assert list((home / "quarantine" / "actuals").glob("*.reason.txt"))


def test_quarantined_files_are_not_world_readable(loaded_world):
    home, landing, con = loaded_world
    (landing / "actuals" / "2013-02-30.csv").write_text("secret\n")
    os.chmod(landing / "actuals" / "2013-02-30.csv", 0o644)

    Loader(con, landing, home / "quarantine").load(ACTUALS)

    kept = list((home / "quarantine" / "actuals").iterdir())
    assert len(kept) == 2 and all(p.stat().st_mode & 0o007 == 0 for p in kept)
