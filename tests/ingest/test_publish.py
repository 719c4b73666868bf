import subprocess
import sys

import duckdb
import pytest

from ingest.publish import publish_snapshot, snapshot_path


def test_the_snapshot_is_a_complete_copy_stamped_with_its_runs(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create schema marts; create table marts.t as select range as x from range(1000)")
    con.close()

    published = publish_snapshot(warehouse, ["run-1"])

    assert published.path == snapshot_path(warehouse) == tmp_path / "analytics.duckdb"
    snap = duckdb.connect(str(published.path), read_only=True)
    assert snap.execute("select count(*) from marts.t").fetchone()[0] == 1000
    assert snap.execute("select run_ids from meta.snapshot_info").fetchone()[0] == ["run-1"]
    snap.close()
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_open_reader_keeps_its_snapshot_and_a_new_one_sees_the_next(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(warehouse))
    con.execute("create table t as select 1 as version")
    con.close()
    publish_snapshot(warehouse)
    reader = duckdb.connect(str(snapshot_path(warehouse)), read_only=True)

    con = duckdb.connect(str(warehouse))
    con.execute("update t set version = 2")
    con.close()
    publish_snapshot(warehouse)

    assert reader.execute("select version from t").fetchone()[0] == 1
    # A new reader is another process: within one process DuckDB hands a new connect() the
    # database instance it already has open for that path (the old snapshot).
    query = (
        "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True)"
        ".execute('select version from t').fetchone()[0])"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", query, str(snapshot_path(warehouse))],
        capture_output=True,
        text=True,
        check=True,
    )
    assert fresh.stdout.strip() == "2"
    reader.close()


def test_publishing_without_a_warehouse_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the pipeline first"):
        publish_snapshot(tmp_path / "warehouse.duckdb")
