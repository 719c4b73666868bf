"""End to end: the real Dagster graph over a few days of real data, in a temporary home,
with analysts querying the snapshot while the pipeline runs."""

import json
import subprocess
import sys
import time
from datetime import date

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from ingest.provider.export import export_feeds
from ingest.publish import snapshot_path
from orchestration.runner import run_pipeline
from tests.conftest import fetch

pytestmark = pytest.mark.e2e  # the whole pipeline: `make test`, not `make test-fast`


# An analyst's client in a loop: connect read-only to the snapshot, query, close.
READER = """
import json, os, sys, time
import duckdb
path, stop_file = sys.argv[1], sys.argv[2]
seen, errors, queries = [], [], 0
deadline = time.time() + 300
while time.time() < deadline and not os.path.exists(stop_file):
    try:
        con = duckdb.connect(path, read_only=True)
        rows = con.execute("select count(*) from marts.fct_flights").fetchone()[0]
        stamp = con.execute("select published_at::varchar from meta.snapshot_info").fetchone()[0]
        con.close()
        queries += 1
        if not seen or seen[-1] != [rows, stamp]:
            seen.append([rows, stamp])
    except Exception as error:
        errors.append(repr(error))
    time.sleep(0.02)
print(json.dumps({"seen": seen, "errors": errors, "queries": queries}))
"""


def _count(settings, sql):
    return fetch(settings, sql)[0][0]


def _first_run(home, source, monkeypatch, capsys, storage):
    """The first run over four days: what it builds, and the runs it records."""
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))
    if storage == "stock":
        monkeypatch.setenv("FLIGHTLINE_STOCK_DAGSTER", "1")
    export_feeds(home.landing, until=date(2013, 1, 3), source=source)

    assert run_pipeline(home) == 0
    assert "training pipeline: skipped" in capsys.readouterr().out
    flights = source["flights"]
    scheduled = int((flights.flight_date <= "2013-01-04").sum())
    assert _count(home, "select count(*) from marts.fct_flights") == scheduled
    assert _count(home, "select count(*) from features.flight_features") == scheduled
    assert _count(home, "select count(*) from marts.dim_planes") > 3000

    instance = DagsterInstance.get()
    stock = type(instance.event_log_storage).__module__.startswith("dagster.")
    assert stock == (storage == "stock")
    runs = instance.get_runs(filters=RunsFilter(job_name="feature_pipeline"))
    assert len(runs) == 1 and runs[0].status == DagsterRunStatus.SUCCESS
    # Publishing is a run of the same definitions, after the pipeline's.
    (publish,) = instance.get_runs(filters=RunsFilter(job_name="publish_snapshot"))
    assert publish.status == DagsterRunStatus.SUCCESS and snapshot_path(home.warehouse).exists()
    assert runs[0].tags["dagster/asset_partition_range_start"] == "2013-01-01"
    assert runs[0].tags["dagster/asset_partition_range_end"] == "2013-01-04"
    check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [_check_key("marts", "fct_flights", "unique_fct_flights_flight_id")]
    )
    assert next(iter(check.values())).status.value == "SUCCEEDED"
    return instance


def test_on_dagsters_stock_storage_and_dbt_resource_the_same_run_builds_the_same(
    home, source, dbt_manifest, monkeypatch, capsys
):
    """orchestration/dagster_private/: the private speed-ups change how fast, never what
    runs: the first run and a command with nothing new (the next day's increment runs on
    flightline's storage, below: it is one more feature run)."""
    instance = _first_run(home, source, monkeypatch, capsys, "stock")
    _nothing_new(home, capsys, instance)


def test_the_feature_pipeline_runs_end_to_end_and_only_on_new_work(
    home, source, dbt_manifest, monkeypatch, capsys, tmp_path
):
    instance = _first_run(home, source, monkeypatch, capsys, "flightline")
    flights = source["flights"]

    _nothing_new(home, capsys, instance)

    # One more day: one run over that day's actuals and the next day's schedules, while an
    # analyst queries the snapshot in a loop in another process.
    snapshot = snapshot_path(home.warehouse)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(snapshot), str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        time.sleep(1.0)
        export_feeds(home.landing, until=date(2013, 1, 4), source=source)
        assert run_pipeline(home) == 0
        time.sleep(1.0)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    # The analyst saw the old state, then the new, and never an error.
    report = json.loads(out)
    assert report["errors"] == [] and report["queries"] > 20
    before = int((flights.flight_date <= "2013-01-04").sum())
    after = int((flights.flight_date <= "2013-01-05").sum())
    assert [rows for rows, _ in report["seen"]] == [before, after]
    latest = instance.get_runs(filters=RunsFilter(job_name="feature_pipeline"), limit=1)[0]
    assert latest.status == DagsterRunStatus.SUCCESS
    assert latest.tags["dagster/asset_partition_range_start"] == "2013-01-04"
    assert latest.tags["dagster/asset_partition_range_end"] == "2013-01-05"
    scheduled = int((flights.flight_date <= "2013-01-05").sum())
    assert _count(home, "select count(*) from marts.fct_flights") == scheduled
    assert _count(
        home, "select count(*) from features.flight_features where is_delayed is null"
    ) == int((flights.flight_date == "2013-01-05").sum())


def _nothing_new(home, capsys, instance):
    """Nothing new: no run, no rows."""
    capsys.readouterr()
    assert run_pipeline(home) == 0
    assert "nothing new" in capsys.readouterr().out
    assert len(instance.get_runs()) == 2  # no new run, not even a publish


def _check_key(schema, table, name):
    from dagster import AssetCheckKey, AssetKey

    return AssetCheckKey(AssetKey([schema, table]), name)
