"""flightline's event log (orchestration/dagster_private/event_log.py) records what Dagster's
stock SQLite storage records: a step's batch of asset events, the asset keys' rows, the
schema asked once, a failed batch rolled back. Check results: test_event_log_checks.py."""

import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    DagsterInstance,
)
from dagster._core.events import (
    AssetMaterializationPlannedData,
    AssetObservationData,
    DagsterEventType,
    StepMaterializationData,
)
from dagster._core.events.log import EventLogEntry

from tests.orchestration.dagster_events import (
    ASSET,
    CHECKS,
    entry,
    evaluations,
    instance_for,
    materializations,
    planned_checks,
    restore_environment,
)


def _recorded(instance: DagsterInstance, run_id: str) -> dict:
    storage = instance.event_log_storage
    latest = instance.get_latest_materialization_event(ASSET)
    records = storage.get_records_for_run(run_id, limit=1000).records
    return {
        "partitions": instance.get_materialized_partitions(ASSET),
        "latest": (latest.dagster_event.partition, latest.asset_materialization.metadata),
        "run events": [
            (r.event_log_entry.dagster_event_type, r.event_log_entry.dagster_event.partition)
            for r in records
        ],
        "index events": [
            r.partition_key
            for r in instance.fetch_materializations(ASSET, limit=100, ascending=True).records
        ],
        "by tag": len(
            storage.get_event_tags_for_asset(ASSET, filter_tags={"dagster/data_version": "v1"})
        ),
        "checks": {
            name: sorted(
                (
                    r.partition,
                    r.status.value,
                    r.event.dagster_event.event_specific_data.metadata["failed_rows"].value
                    if r.event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION
                    else None,
                )
                for r in storage.get_asset_check_execution_history(
                    AssetCheckKey(ASSET, name), limit=100
                )
            )
            for name in CHECKS
        },
    }


def _planned(instance: DagsterInstance) -> dict:
    """The checks' executions as a run's start leaves them: one planned row a check and day,
    each holding the planned event."""
    return {
        name: sorted(
            (
                r.partition,
                r.status.value,
                r.run_id,
                r.event.dagster_event_type.value,
                r.event.dagster_event.event_specific_data.partitions_subset.get_partition_keys(),
            )
            for r in instance.event_log_storage.get_asset_check_execution_history(
                AssetCheckKey(ASSET, name), limit=100
            )
        )
        for name in CHECKS
    }


def test_events_are_recorded_as_dagsters_own_storage_records_them(tmp_path, monkeypatch):
    """Batches (one transaction a database) and single events on kept connections leave
    what Dagster's stock SQLite storage leaves: the run's events, the cross-run index,
    partition status, tags and the checks' executions (planned, then passed or failed)."""
    restore_environment(monkeypatch)
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    recorded, planned = {}, {}
    for name, batched in (("stock", False), ("single", False), ("batch", True)):
        instance = instance_for(tmp_path / name, stock=name == "stock")
        storage = instance.event_log_storage
        for events in (planned_checks("run-1", days), materializations("run-1", days)):
            if batched:
                storage.store_event_batch(events)
            else:
                for event in events:
                    storage.store_event(event)
        planned[name] = _planned(instance)
        for event in evaluations("run-1", days):  # Dagster logs these one at a time
            storage.store_event(event)
        recorded[name] = _recorded(instance, "run-1")
    assert recorded["single"] == recorded["stock"]
    assert recorded["batch"] == recorded["stock"]
    assert planned["single"] == planned["stock"]
    assert planned["batch"] == planned["stock"]
    assert [row[:4] for row in planned["batch"]["expectations"]] == [
        (day, "PLANNED", "run-1", "ASSET_CHECK_EVALUATION_PLANNED") for day in days
    ]
    assert all(row[4] == days for row in planned["batch"]["expectations"])
    batch = recorded["batch"]
    assert batch["partitions"] == set(days)
    assert batch["latest"][0] == "2013-01-03"
    assert batch["index events"] == days
    assert batch["by tag"] == 1
    assert batch["checks"]["expectations"] == [
        ("2013-01-01", "SUCCEEDED", 0),
        ("2013-01-02", "SUCCEEDED", 0),
        ("2013-01-03", "FAILED", 1),
    ]


def _asset_event(run_id: str, kind: DagsterEventType, asset: AssetKey, day: str) -> EventLogEntry:
    data = {
        DagsterEventType.ASSET_MATERIALIZATION: lambda: StepMaterializationData(
            AssetMaterialization(asset, partition=day)
        ),
        DagsterEventType.ASSET_MATERIALIZATION_PLANNED: lambda: AssetMaterializationPlannedData(
            asset, partition=day
        ),
        DagsterEventType.ASSET_OBSERVATION: lambda: AssetObservationData(
            AssetObservation(asset, partition=day)
        ),
    }[kind]()
    return entry(run_id, kind, data)


def test_a_batch_leaves_each_asset_keys_row_as_its_events_one_by_one_do(tmp_path, monkeypatch):
    """A batch writes each asset key's row once (the last materialization, the last run, the
    last timestamp); the row (and a new row's id) is what Dagster's storage leaves after
    every event in turn, for materializations, planned materializations and observations of
    two assets, interleaved, written into rows a first batch left, and for two new keys."""
    from dagster._core.storage.event_log.schema import AssetKeyTable
    from sqlalchemy import select

    other, third, fourth = (AssetKey(["marts", name]) for name in ("dim_planes", "c", "d"))
    kinds = (
        DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
        DagsterEventType.ASSET_MATERIALIZATION,
        DagsterEventType.ASSET_OBSERVATION,
    )
    batches = [
        [_asset_event("run-1", kinds[1], ASSET, day) for day in ("2013-01-01", "2013-01-02")],
        [
            _asset_event("run-2", kind, asset, day)
            for day in ("2013-01-02", "2013-01-03")
            for kind in kinds
            for asset in (ASSET, other)
        ]
        + [_asset_event("run-2", kinds[0], other, "2013-01-04")],
        # two new keys: each row inserted (its id) in the order the key first appears
        [
            _asset_event("run-3", kind, asset, "2013-01-05")
            for kind, asset in (
                (kinds[1], third),
                (kinds[1], fourth),
                (kinds[1], third),
                (kinds[0], fourth),
            )
        ],
    ]
    rows = {}
    for name in ("stock", "batch"):
        restore_environment(monkeypatch)
        storage = instance_for(tmp_path / name, stock=name == "stock").event_log_storage
        for events in batches:
            storage.store_event_batch(events)
        with storage.index_connection() as conn:
            written = [c for c in AssetKeyTable.c if c.name != "create_timestamp"]  # the clock's
            rows[name] = sorted(conn.execute(select(*written)).all())
    assert rows["batch"] == rows["stock"]
    assert len(rows["stock"]) == 4


def test_the_schema_is_probed_once_not_for_every_event(tmp_path, monkeypatch):
    """Dagster's storage (1.13) asks whether the checks' table exists for every check result
    (on an engine of its own) and inspects the asset keys' columns for every
    materialization; flightline's asks each once, and records the same rows (above)."""
    from dagster._core.storage.event_log.sql_event_log import SqlEventLogStorage
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    probes: list[str] = []
    has_table, has_column = (
        SqliteEventLogStorage.has_table,
        SqlEventLogStorage._has_asset_key_col_on_connection,
    )
    monkeypatch.setattr(
        SqliteEventLogStorage,
        "has_table",
        lambda self, name: probes.append(name) or has_table(self, name),
    )
    monkeypatch.setattr(
        SqlEventLogStorage,
        "_has_asset_key_col_on_connection",
        lambda self, conn, name: probes.append(name) or has_column(self, conn, name),
    )
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    counted = {}
    for name in ("stock", "flightline"):
        restore_environment(monkeypatch)
        storage = instance_for(tmp_path / name, stock=name == "stock").event_log_storage
        probes.clear()
        storage.store_event_batch(materializations("run-1", days))
        for event in [*evaluations("run-1", days), *materializations("run-2", days)]:
            storage.store_event(event)
        counted[name] = {probe: probes.count(probe) for probe in probes}
    assert counted["stock"]["last_materialization_timestamp"] == 2 * len(days)
    assert counted["stock"]["asset_check_executions"] == len(CHECKS) * len(days)
    assert counted["flightline"].keys() == counted["stock"].keys()  # the same questions,
    assert set(counted["flightline"].values()) == {1}  # each asked once


def test_a_missing_table_is_asked_again_and_a_table_found_stays_found(tmp_path, monkeypatch):
    from sqlalchemy import text

    restore_environment(monkeypatch)
    storage = instance_for(tmp_path / "home", stock=False).event_log_storage
    assert not storage.has_table("flightline_later")
    with storage.index_connection() as conn:
        conn.execute(text("create table flightline_later (id integer)"))
    assert storage.has_table("flightline_later")
    storage.wipe()  # deletes rows and run files, not the index's tables
    assert storage.has_table("flightline_later") and storage.has_table("asset_check_executions")


def test_a_batch_that_fails_writes_nothing(tmp_path, monkeypatch):
    """An event that cannot be stored rolls its batch back in both databases (Dagster then
    stores the events one by one), and the storage goes on writing."""
    restore_environment(monkeypatch)
    instance = instance_for(tmp_path / "home", stock=False)
    storage = instance.event_log_storage
    events = materializations("run-1", ["2013-01-01", "2013-01-02"])

    def asset_key_row(*args):  # after the events' rows, in the same transaction
        raise RuntimeError("disk full")

    monkeypatch.setattr(storage, "_get_asset_entry_values", asset_key_row)
    with pytest.raises(RuntimeError, match="disk full"):
        storage.store_event_batch(events)
    monkeypatch.undo()
    restore_environment(monkeypatch)
    assert storage.get_records_for_run("run-1").records == []
    assert instance.get_materialized_partitions(ASSET) == set()
    storage.store_event_batch(events)
    assert instance.get_materialized_partitions(ASSET) == {"2013-01-01", "2013-01-02"}
