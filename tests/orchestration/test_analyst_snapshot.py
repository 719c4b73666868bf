"""Analysts query the snapshot in a loop, in another process, while the pipeline runs."""

import json
import subprocess
import sys
import time
from datetime import date

import pytest

from ingest.provider.export import export_feeds
from ingest.publish import snapshot_path
from orchestration.runner import RunOptions, run_pipeline

pytestmark = pytest.mark.e2e  # the whole pipeline: `make test`, not `make test-fast`

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

FEATURES_ONLY = RunOptions(train=False, scoring_range=None)


def test_a_reader_in_a_loop_sees_the_old_state_then_the_new_and_never_an_error(
    home, source, dbt_manifest, monkeypatch, tmp_path
):
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))
    export_feeds(home.landing, until=date(2013, 1, 2), source=source)
    assert run_pipeline(home, FEATURES_ONLY) == 0
    snapshot = snapshot_path(home.warehouse)
    stop = tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(snapshot), str(stop)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(1.0)
        export_feeds(home.landing, until=date(2013, 1, 3), source=source)
        assert run_pipeline(home, FEATURES_ONLY) == 0
        time.sleep(1.0)
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    report = json.loads(out)

    flights = source["flights"]
    before = int((flights.flight_date <= "2013-01-03").sum())
    after = int((flights.flight_date <= "2013-01-04").sum())
    assert report["errors"] == []
    assert report["queries"] > 20
    assert [rows for rows, _ in report["seen"]] == [before, after]
