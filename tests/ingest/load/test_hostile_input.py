"""Hostile and broken feed files (issue 16): each case an attacker or an unlucky operator
tried, as a regression test. What holds after every one: nothing outside the data directory
is touched, no other feed's table changes, the other files load, and rows_read is what an
independent reader counts = rows_loaded + rows_quarantined."""

import os
from datetime import date
from pathlib import Path

import duckdb
import pytest

import ingest.load.candidates as candidates_module
from ingest.catalog import FEEDS_BY_NAME
from ingest.landing import partition_key
from ingest.load.loader import Loader, ingest_all
from ingest.provider.export import export_feeds
from ingest.warehouse import WarehouseBusy, connect, execute, sql_path
from tests.ingest.load.support import counts_add_up, day_rows

ACTUALS = FEEDS_BY_NAME["actuals"]
WEATHER = FEEDS_BY_NAME["weather"]


def test_the_loaders_connection_cannot_touch_files_outside_its_directories(loaded_world, tmp_path):
    home, landing, con = loaded_world
    Loader(con, landing, home / "quarantine")
    outside = tmp_path / "outside.csv"
    with pytest.raises(duckdb.PermissionException):
        con.execute(f"copy (select 1) to {sql_path(outside)}")
    with pytest.raises(duckdb.PermissionException):
        con.execute("select * from read_csv('/etc/passwd')")
    assert not outside.exists()


def test_no_statement_the_loader_runs_can_hold_two(loaded_world):
    _, _, con = loaded_world
    with pytest.raises(ValueError, match="2 statements"):
        execute(con, "select 1; delete from raw.weather")
    assert con.execute("select count(*) from raw.weather").fetchone()[0] > 0


@pytest.mark.parametrize("feed", ["actuals", "weather"])
def test_a_line_over_duckdbs_maximum_is_a_quarantined_row_with_a_reason(loaded_world, feed):
    home, landing, con = loaded_world
    spec = FEEDS_BY_NAME[feed]
    path = next((landing / spec.pattern.split("/")[0]).glob("2013-01-04.*"))
    lines = path.read_text().splitlines()
    long = "2013-01-04,AA," + "9" * 3_000_000 if feed == "actuals" else '{"x": "' + "y" * 3_000_000
    path.write_text("\n".join([*lines[:5], long, *lines[5:]]) + "\n")

    result = Loader(con, landing, home / "quarantine").load(spec)

    (outcome,) = result.outcomes
    assert outcome.status == "loaded" and outcome.rows_quarantined == 1
    reason = con.execute("select reason from ingest.quarantined_rows").fetchone()[0]
    assert "LINE SIZE OVER MAXIMUM" in reason
    counts_add_up(con)
    # Nothing stuck: the next day of the feed loads on the next run.
    nxt = path.with_name(path.name.replace("01-04", "01-05"))
    nxt.write_text("\n".join(line.replace("2013-01-04", "2013-01-05") for line in lines) + "\n")
    again = Loader(con, landing, home / "quarantine").load(spec)
    assert [o.status for o in again.outcomes] == ["loaded"]


def test_a_record_duckdb_drops_without_a_word_quarantines_its_file_whole(loaded_world):
    """DuckDB 2.0 skips a line of ~100 MB without a reject: the file's records, counted
    without DuckDB, then exceed what it returned."""
    home, landing, con = loaded_world
    path = landing / "actuals" / "2013-01-04.csv"
    header, *rows = path.read_text().splitlines()
    with path.open("w") as handle:
        handle.write("\n".join([header, *rows[:3]]) + "\n")
        handle.write("2013-01-04,AA," + "9" * 100_000_000 + "\n")
        handle.write("\n".join(rows[3:]) + "\n")
    other = landing / "schedules" / "2013-01-04.csv"

    result = Loader(con, landing, home / "quarantine").load(ACTUALS)
    schedules = Loader(con, landing, home / "quarantine").load(FEEDS_BY_NAME["schedules"])

    (outcome,) = result.outcomes
    assert outcome.status == "quarantined" and outcome.rows_read == len(rows) + 1
    assert outcome.rows_quarantined == outcome.rows_read and outcome.rows_loaded == 0
    assert f"returned {len(rows)} of the {len(rows) + 1} records" in outcome.reason
    assert day_rows(con, "raw.actuals", "flight_date", "2013-01-04") == 0
    assert [o.path for o in schedules.outcomes] == [other]
    counts_add_up(con)


@pytest.mark.parametrize(
    "name",
    [
        "2013-02-30.csv",  # not a calendar date
        "2014-05-01.csv",  # outside the pipeline's days
        "\uff12\uff10\uff11\uff13-01-05.csv",  # full-width digits: \d matched them
        "2013-01-05.csv\n",  # a trailing newline: $ matched before it
        "2013-1-05.csv",
    ],
)
def test_a_file_named_like_a_day_that_is_not_one_is_quarantined_by_its_name(loaded_world, name):
    home, landing, con = loaded_world
    good = landing / "actuals" / "2013-01-04.csv"
    (landing / "actuals" / name).write_bytes(good.read_bytes())

    result = Loader(con, landing, home / "quarantine").load(ACTUALS, partitions={"2013-01-04"})

    by_name = {o.path.name: o for o in result.outcomes}
    assert by_name[name].status == "quarantined" and "file name" in by_name[name].reason
    assert by_name["2013-01-04.csv"].status == "loaded"
    assert not (landing / "actuals" / name).exists()
    counts_add_up(con)


def test_partition_names_are_ascii_calendar_days_of_the_pipeline():
    assert partition_key("2013-03-01") == "2013-03-01"
    for stem in [
        "2013-02-30",
        "2014-01-01",
        "2012-12-31",
        "\uff12\uff10\uff11\uff13-01-05",
        "2013-01-05\n",
    ]:
        assert partition_key(stem) is None, stem


def test_the_cli_plan_takes_only_real_days_and_still_quarantines_the_rest(home, source):
    from dagster import DagsterInstance

    from orchestration.runner import landed_files
    from orchestration.sensors import landed_since_loads

    export_feeds(home.landing, until=date(2013, 1, 2), source=source)
    (home.landing / "actuals" / "2013-02-30.csv").write_text("x\n")

    with DagsterInstance.ephemeral() as instance:
        # By content (the CLI) and by time (the sensor): the misnamed file counts under the
        # latest day loaded (none yet: the first), whose load quarantines it by its name.
        for landed in (landed_files(home, instance), landed_since_loads(instance, home.landing)):
            assert landed.days == {"2013-01-01", "2013-01-02", "2013-01-03"}
            assert landed.reference


def test_a_symbolic_link_in_landing_is_refused_not_followed(loaded_world, tmp_path):
    home, landing, con = loaded_world
    elsewhere = tmp_path / "elsewhere.csv"
    (landing / "actuals" / "2013-01-04.csv").rename(elsewhere)
    (landing / "actuals" / "2013-01-04.csv").symlink_to(elsewhere)

    result = Loader(con, landing, home / "quarantine").load(ACTUALS)

    (outcome,) = result.outcomes
    assert outcome.status == "quarantined" and "symbolic link" in outcome.reason
    assert day_rows(con, "raw.actuals", "flight_date", "2013-01-04") == 0
    assert elsewhere.exists()  # the link moved to quarantine/, not its target
    counts_add_up(con)


def test_a_file_rewritten_while_it_loads_is_left_for_the_next_load(loaded_world, monkeypatch):
    """Rewritten between its hash and DuckDB's read, a file loaded half its rows under the
    whole file's hash and was skipped ever after. Now it is hashed again after the read."""
    home, landing, con = loaded_world
    path = landing / "actuals" / "2013-01-04.csv"
    header, *rows = path.read_text().splitlines()
    stage = candidates_module.stage
    calls = []

    def rewritten_after_hashing(file, spec):
        staged = stage(file, spec)
        if file == path and not calls:
            calls.append(file)
            file.write_text("\n".join([header, *rows[: len(rows) // 2]]) + "\n")
        return staged

    monkeypatch.setattr(candidates_module, "stage", rewritten_after_hashing)
    result = Loader(con, landing, home / "quarantine").load(ACTUALS)

    (outcome,) = result.outcomes
    assert outcome.status == "deferred" and "changed while it was loaded" in outcome.reason
    assert day_rows(con, "raw.actuals", "flight_date", "2013-01-04") == 0
    assert not con.execute(
        "select count(*) from ingest.file_log where batch_id = ?", [result.batch_id]
    ).fetchone()[0]
    # Still in landing, and the next load takes it as it now is.
    monkeypatch.setattr(candidates_module, "stage", stage)
    again = Loader(con, landing, home / "quarantine").load(ACTUALS)
    assert [(o.status, o.rows_loaded) for o in again.outcomes] == [("loaded", len(rows) // 2)]


@pytest.mark.parametrize("name", ["da[ta]", "da*", "d?ta"])
def test_glob_characters_in_the_data_directory_read_only_its_own_files(tmp_path, source, name):
    sibling = tmp_path / "data"  # what `da[ta]`, `da*` and `d?ta` also match
    export_feeds(sibling / "landing", until=date(2013, 1, 2), source=source)
    home = tmp_path / name
    export_feeds(home / "landing", until=date(2013, 1, 1), source=source)
    warehouse = home / "warehouse.duckdb"
    if "?" in name:  # DuckDB cannot keep a database there: said before it tries
        with pytest.raises(ValueError, match="the path holds '\\?'"):
            connect(warehouse)
        warehouse = tmp_path / "warehouse.duckdb"
    con = connect(warehouse)
    try:
        result = Loader(con, home / "landing", home / "quarantine").load(ACTUALS)
        sources = {
            f for (f,) in con.execute("select distinct _source_file from raw.actuals").fetchall()
        }
    finally:
        con.close()
    assert [o.status for o in result.outcomes] == ["loaded"]
    assert sources == {"actuals/2013-01-01.csv"}


def test_a_warehouse_held_by_another_program_is_one_clear_error(tmp_path):
    import subprocess
    import sys

    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import duckdb, time; c = duckdb.connect({str(warehouse)!r}); print('open', "
            "flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "open"
        with pytest.raises(WarehouseBusy, match=r"open in another program \(process \d+\)"):
            connect(warehouse)
    finally:
        holder.kill()


def test_a_crashed_publish_leaves_no_copy_behind_after_the_next(tmp_path):
    from ingest.publish import publish_snapshot

    warehouse = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(warehouse)).close()
    leftover = tmp_path / ".analytics.duckdb.99999.tmp"
    leftover.write_bytes(b"x" * 1000)

    publish_snapshot(warehouse)

    assert not leftover.exists() and not list(tmp_path.glob(".*.tmp"))


def test_a_blank_line_in_json_lines_is_no_record_and_the_file_loads(loaded_world):
    home, landing, con = loaded_world
    path = landing / "weather" / "2013-01-04.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:3], "", *lines[3:], "", ""]) + "\n")

    result = Loader(con, landing, home / "quarantine").load(WEATHER)

    (outcome,) = result.outcomes
    assert (outcome.status, outcome.rows_read, outcome.rows_loaded) == (
        "loaded",
        len(lines),
        len(lines),
    )
    counts_add_up(con)


def test_a_json_lines_file_duckdb_cannot_parse_is_quarantined_and_the_rest_loads(loaded_world):
    """A lone carriage return before a line over 2 MB stopped the whole load: DuckDB's
    reader failed on the file's keys (found by the fuzzer)."""
    home, landing, con = loaded_world
    path = landing / "weather" / "2013-01-04.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([*lines[:3], "\r" + "9" * 2_100_000, *lines[3:]]) + "\n")
    other = landing / "forecasts" / "2013-01-04.jsonl"

    results = ingest_all(con, landing, home / "quarantine")

    (outcome,) = results["weather"].outcomes
    assert outcome.status in {"quarantined", "loaded"}
    assert outcome.rows_read == outcome.rows_loaded + outcome.rows_quarantined == len(lines) + 1
    assert [o.path for o in results["forecasts"].outcomes] == [other]
    counts_add_up(con)


def test_a_file_name_that_is_not_utf8_is_quarantined_and_the_feed_loads(loaded_world):
    """Linux file names are bytes: one that is not UTF-8 failed every statement binding it,
    so the whole feed, and the feeds after it, stopped on every run (found in review)."""
    home, landing, con = loaded_world
    bad = os.fsdecode(os.fsencode(landing / "actuals") + b"/2013-01-0\xff.csv")
    Path(bad).write_text("x\n")

    results = ingest_all(con, landing, home / "quarantine")

    names = {o.path.name: o for o in results["actuals"].outcomes}
    assert names["2013-01-04.csv"].status == "loaded"
    assert names[Path(bad).name].status == "quarantined" and not Path(bad).exists()
    logged = con.execute("select source_file from ingest.file_log where status = 'quarantined'")
    assert [r[0] for r in logged.fetchall()] == ["actuals/2013-01-0\\xff.csv"]
    assert [o.status for o in results["weather"].outcomes] == ["loaded"]


def test_a_feed_folder_that_links_elsewhere_is_refused_and_nothing_there_moves(
    loaded_world, tmp_path
):
    from ingest.landing import LandingRefused

    home, landing, con = loaded_world
    elsewhere = tmp_path / "elsewhere"
    (landing / "actuals").rename(elsewhere)
    (landing / "actuals").symlink_to(elsewhere)
    before = sorted(p.name for p in elsewhere.iterdir())

    with pytest.raises(LandingRefused, match="is a link to"):
        Loader(con, landing, home / "quarantine").load(ACTUALS)

    assert sorted(p.name for p in elsewhere.iterdir()) == before


def test_a_name_without_its_extension_and_hidden_uploads_are_not_a_day(loaded_world):
    home, landing, con = loaded_world
    day = landing / "actuals" / "2013-01-04.csv"
    (landing / "actuals" / "2013-01-03").write_bytes(day.read_bytes())  # no extension
    upload = landing / "actuals" / ".2013-01-05.csv.Xy12Zq"  # rsync, mid-transfer
    upload.write_bytes(day.read_bytes()[:100])

    result = Loader(con, landing, home / "quarantine").load(ACTUALS)

    by_name = {o.path.name: o for o in result.outcomes}
    assert by_name["2013-01-03"].status == "quarantined"
    assert "file name must be YYYY-MM-DD.csv" in by_name["2013-01-03"].reason
    assert upload.exists() and upload.name not in by_name


@pytest.mark.parametrize("name", ["d[a]ta", "da*", "d?ta"])
def test_a_path_with_glob_characters_names_one_file_for_duckdb(tmp_path, name):
    """DuckDB's readers expand globs in any path: `d[a]ta`, `da*` and `d?ta` also match the
    sibling `data`. sql_path escapes each glob character as a one-character class."""
    for folder in ("data", name):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "f.csv").write_text(f"x\n{folder}\n")
    path = tmp_path / name / "f.csv"

    read = duckdb.connect().execute(f"select x from read_csv({sql_path(path)})").fetchall()
    unescaped = duckdb.connect().execute("select x from read_csv(?)", [str(path)]).fetchall()

    assert read == [(name,)]
    assert ("data",) in unescaped  # what an unescaped path reads
