"""Recorded inputs (ingest/recorded.py): what a step's recording holds, shares and forgets."""

import json
import os
import time

import duckdb
import pytest

from ingest.recorded import SHARED_FILES, NotRecorded, load, prune, record_step
from ingest.settings import Settings
from orchestration.debug import debug


def test_a_step_records_its_rows_its_outcome_and_what_it_cost(home: Settings):
    con = duckdb.connect()
    con.execute("create table t as select range as x from range(10)")
    with pytest.raises(ZeroDivisionError), record_step(home, "r1", "step", {"a": 1}) as rec:
        assert rec.copy_rows(con, "t", "x >= ?", [7]) == 3
        1 / 0  # noqa: B018
    recorded = load(home, "r1")  # the failed one
    assert recorded.step == "step" and recorded.arguments == {"a": 1}
    assert recorded.outcome == {"status": "failed", "error": "ZeroDivisionError: division by zero"}
    # A connection of its own: the module's default one is the whole test process's, and
    # DuckDB 2.0 refuses its next query while another test left a result of it unread.
    rows = con.sql(f"select x from '{recorded.directory / recorded.tables['t']}' order by x")
    assert rows.fetchall() == [(7,), (8,), (9,)]
    assert recorded.seconds > 0 and recorded.not_copied == []
    assert rec.metadata()["recorded_inputs"] == str(recorded.directory)
    assert rec.metadata()["recorded_inputs_mb"] > 0


def test_a_file_many_steps_read_is_kept_once_by_content(home: Settings, tmp_path):
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"nodes": list(range(1000))}))
    for run in ("r1", "r2"):
        with record_step(home, run, "dbt_daily_models", {}) as rec:
            rec.keep_file(manifest)
    kept = list((home.recorded / SHARED_FILES).iterdir())
    assert len(kept) == 1
    assert load(home, "r1", "dbt_daily_models").files == load(home, "r2", "dbt_daily_models").files
    manifest.write_text("{}")  # another code version: another copy
    with record_step(home, "r3", "dbt_daily_models", {}) as rec:
        rec.keep_file(manifest)
    assert len(list((home.recorded / SHARED_FILES).iterdir())) == 2


def test_retention_removes_old_runs_and_files_no_run_used_since(home: Settings, tmp_path):
    manifest = tmp_path / "manifest.json"
    for run, content in (("old", "a"), ("new", "b")):
        manifest.write_text(content)
        with record_step(home, run, "dbt_daily_models", {}) as rec:
            rec.keep_file(manifest)
    month_ago = time.time() - 31 * 86_400
    shared = home.recorded / SHARED_FILES
    old_file = shared / load(home, "old", "dbt_daily_models").files["manifest.json"].split("/")[1]
    for path in (home.recorded / "old", old_file):
        os.utime(path, (month_ago, month_ago))
    removed = prune(home.recorded, days=30)
    assert set(removed) == {home.recorded / "old", old_file}
    assert [p.name for p in home.recorded.iterdir() if p.name != SHARED_FILES] == ["new"]
    assert len(list(shared.iterdir())) == 1


def test_on_spark_the_relations_are_named_not_copied_and_debug_says_so(home: Settings, monkeypatch):
    monkeypatch.setenv("FLIGHTLINE_ENGINE", "spark")
    con = duckdb.connect()
    with record_step(home, "r1", "drift", {"days": ["2013-01-02"]}) as rec:
        assert rec.copy_rows(con, "features.flight_features", "true", []) == 0
    assert rec.metadata()["recorded_inputs_not_copied"] == "features.flight_features"
    assert load(home, "r1", "drift").tables == {}
    with pytest.raises(NotRecorded, match=r"read features\.flight_features on the Spark engine"):
        debug(home, "r1", "drift")
