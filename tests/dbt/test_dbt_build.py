"""dbt build and dbt tests on real days of data, and point-in-time correctness of features."""

import json
import os
import shutil
import subprocess
from datetime import date, timedelta

import duckdb
import pandas as pd
import pytest

from ingest.load.loader import ingest_all
from ingest.provider.export import export_feeds
from ingest.settings import DBT_PROJECT_DIR, Settings
from ingest.warehouse import connect
from ingest.windows import dbt_window_env
from orchestration.dbt_manifest import dbt_executable
from tests.conftest import run_dbt

D = date(2013, 2, 14)
NEXT = (D + timedelta(days=1)).isoformat()


def land_and_load(settings: Settings, source, until: date, since: date | None = None) -> None:
    export_feeds(settings.landing, until=until, since=since, source=source)
    con = connect(settings.warehouse)
    try:
        ingest_all(con, settings.landing, settings.quarantine)
    finally:
        con.close()


def query(settings: Settings, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


def features_of(settings: Settings, day: str) -> pd.DataFrame:
    frame = query(settings, f"select * from features.flight_features where flight_date = '{day}'")
    return frame.sort_values("flight_id").reset_index(drop=True)


@pytest.fixture(scope="module")
def few_days(tmp_path_factory, source, dbt_manifest):
    settings = Settings(home=tmp_path_factory.mktemp("few_days"))
    land_and_load(settings, source, until=date(2013, 1, 5))
    run_dbt(settings, "build")
    return settings


def test_dbt_build_and_its_tests_pass_on_real_days(few_days, source):
    counts = query(
        few_days,
        """
        select
            (select count(*) from raw.schedules) as schedules,
            (select count(*) from marts.fct_flights) as flights,
            (select count(*) from features.flight_features) as features,
            (select count(*) from marts.fct_flights where is_cancelled) as cancelled,
            (select count(*) from marts.fct_flights where is_delayed is null) as unlabelled,
            (select count(*) from marts.fct_flights where flight_date = '2013-01-06') as next_day
        """,
    ).iloc[0]
    flights = source["flights"]
    through_5th = flights[flights.flight_date <= "2013-01-05"]
    assert (
        counts.schedules
        == counts.flights
        == counts.features
        == len(through_5th) + int(counts.next_day)
    )
    assert counts.cancelled == through_5th.dep_time.isna().sum()
    # The schedules of the 6th are published, its outcomes are not: no labels yet.
    assert counts.unlabelled == counts.next_day > 0


def test_dbt_writes_to_the_schemas_by_their_own_names(few_days):
    schemas = set(
        query(few_days, "select distinct table_schema from information_schema.tables").table_schema
    )
    assert {"raw", "staging", "marts", "features"} <= schemas
    assert not any(schema.startswith("main_") for schema in schemas)


def test_the_label_follows_the_definition(few_days, source):
    labels = query(
        few_days,
        "select flight_date::varchar as flight_date, carrier, flight_number, origin, is_delayed "
        "from marts.fct_flights where has_actuals",
    )
    flights = source["flights"]
    expected = flights[flights.flight_date <= "2013-01-05"].assign(
        expected=lambda f: f.arr_delay.isna() | (f.arr_delay >= 15)
    )
    merged = labels.merge(
        expected.rename(columns={"flight": "flight_number"}),
        on=["flight_date", "carrier", "flight_number", "origin"],
    )
    assert len(merged) == len(expected)
    assert (merged.is_delayed == merged.expected).all()


@pytest.mark.e2e  # two warehouses over five weeks: `make test`, not `make test-fast`
def test_features_of_the_next_day_are_point_in_time_correct(
    tmp_path_factory, source, dbt_manifest, six_weeks
):
    """Features of D+1 built from the feeds as they stood at the end of D (loaded day by day,
    the last day through an incremental window) equal those built from five weeks more of
    feeds (D+1's outcomes and everything after that could leak into it, in one build)."""
    from tests.conftest import copy_of

    # six_weeks: the feeds until the day before D, built (actuals through D - 1).
    partial = copy_of(six_weeks, tmp_path_factory.mktemp("until_d"))
    last = query(partial, "select max(flight_date)::varchar as day from raw.actuals").day[0]
    assert last == (D - timedelta(days=1)).isoformat()
    shutil.copytree(six_weeks.landing, partial.landing)
    land_and_load(partial, source, until=D, since=D)
    window = json.dumps({"start_date": D.isoformat(), "end_date": NEXT})
    run_dbt(partial, "build", "--vars", window)

    full = Settings(home=tmp_path_factory.mktemp("five_weeks_later"))
    land_and_load(full, source, until=D + timedelta(days=35))
    run_dbt(full, "build")

    at_end_of_d = features_of(partial, NEXT)
    later = features_of(full, NEXT)
    assert len(at_end_of_d) == len(later) > 0
    # Not yet known at the end of D: the label. Every other column, the forecast published
    # the day before included, must be identical.
    assert at_end_of_d.is_delayed.isna().all()
    assert later.is_delayed.notna().all()
    assert at_end_of_d.forecast_temperature_f.notna().mean() > 0.95
    pd.testing.assert_frame_equal(
        at_end_of_d.drop(columns="is_delayed"),
        later.drop(columns="is_delayed"),
        check_dtype=False,
    )
    # The day D itself, rebuilt incrementally once its actuals arrived, equals the full build.
    pd.testing.assert_frame_equal(
        features_of(partial, D.isoformat()), features_of(full, D.isoformat()), check_dtype=False
    )


def test_no_outcome_of_the_day_or_after_reaches_its_features(six_weeks, tmp_path):
    """Rewrite every outcome from D on (all flights 3 hours late) and rebuild: the features
    of D are unchanged, those of D + 1 are not (so the rewrite did reach the features)."""
    from tests.conftest import copy_of

    day, next_day = "2013-02-05", "2013-02-06"
    settings = copy_of(six_weeks, tmp_path)
    before_d, before_next = features_of(settings, day), features_of(settings, next_day)

    con = duckdb.connect(str(settings.warehouse))
    con.execute(
        f"update raw.actuals set arr_delay = 180, dep_delay = 180, dep_time = 900 "
        f"where flight_date >= '{day}'"
    )
    con.close()
    run_dbt(
        settings,
        "build",
        "--full-refresh",
        "--exclude",
        "tag:ml",
        "--exclude-resource-type",
        "unit_test",
    )

    after_d, after_next = features_of(settings, day), features_of(settings, next_day)
    assert after_d.is_delayed.all() and not before_d.is_delayed.all()
    features = [c for c in before_d.columns if c != "is_delayed"]
    pd.testing.assert_frame_equal(before_d[features], after_d[features], check_dtype=False)
    assert (after_next.origin_delay_rate_1d == 1.0).all()
    assert not before_next.origin_delay_rate_1d.equals(after_next.origin_delay_rate_1d)


def test_an_actual_without_its_schedule_fails_the_windowed_relationship_test(few_days, tmp_path):
    """relationships_same_day reads the parent for the run's dates only (an evening's test
    stays one day), and still finds an actual whose flight was never scheduled."""
    from tests.conftest import copy_of

    settings = copy_of(few_days, tmp_path)
    con = duckdb.connect(str(settings.warehouse))
    con.execute(
        "insert into raw.actuals select * replace (9999 as flight) from raw.actuals "
        "where flight_date = '2013-01-03' limit 1"
    )
    con.close()
    test = "actuals_refer_to_a_scheduled_flight"

    # The window as the pipeline passes it (environment: a --vars change parses the project
    # again); by hand `--vars` gives the same window (test_features_of_the_next_day_...).
    later = dbt_window_env("2013-01-04", "2013-01-05")
    run_dbt(settings, "test", "--select", test, environment=later)  # its day is not in the run
    that_day = dbt_window_env("2013-01-03", "2013-01-03")
    with pytest.raises(pytest.fail.Exception, match="actuals_refer_to_a_scheduled_flight"):
        run_dbt(settings, "test", "--select", test, environment=that_day)


def test_a_window_that_is_not_a_date_never_reaches_the_sql(tmp_path, monkeypatch, dbt_manifest):
    """The window is pasted into model SQL (macros/flight_macros.sql): anything but an ISO
    date in FLIGHTLINE_DBT_START_DATE stops dbt with a message, before any SQL runs."""
    import os
    import subprocess

    from ingest.settings import DBT_PROJECT_DIR
    from orchestration.dbt_manifest import dbt_executable

    env = {
        **os.environ,
        "FLIGHTLINE_WAREHOUSE": ":memory:",
        "FLIGHTLINE_DBT_START_DATE": "2013-01-01' or true --",
        "FLIGHTLINE_DBT_END_DATE": "2013-01-02",
    }
    completed = subprocess.run(
        [
            *(dbt_executable(), "compile", "--profiles-dir", "."),
            *("--select", "fct_flights", "--target-path", str(tmp_path / "dbt")),
        ],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode != 0
    assert "window start_date must be a date YYYY-MM-DD" in completed.stdout


def test_dbt_build_before_any_feed_landed_names_the_command_that_lands_them(tmp_path):
    """A fresh clone's `cd dbt_project && dbt build`: data/warehouse/ is tracked, so DuckDB
    can open the (empty) warehouse, and the first hook stops with one sentence instead of a
    traceback and seven "Table ... does not exist"."""
    repo = DBT_PROJECT_DIR.parent
    listed = subprocess.run(
        ["git", "ls-files", "data/warehouse"], cwd=repo, capture_output=True, text=True
    )
    assert listed.stdout.split() == ["data/warehouse/.gitkeep"]

    (tmp_path / "warehouse").mkdir()
    env = {**os.environ, "FLIGHTLINE_HOME": str(tmp_path)}
    env.pop("FLIGHTLINE_WAREHOUSE", None)
    completed = subprocess.run(
        [dbt_executable(), "build", "--profiles-dir", ".", "--target-path", str(tmp_path / "t")],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert completed.returncode != 0
    output = completed.stdout + completed.stderr
    assert "Traceback" not in output and "does not exist" not in output
    assert "has no raw.actuals, raw.airlines" in output
    assert "run `make run` (or `flightline run`) first, then `dbt build` again" in output
