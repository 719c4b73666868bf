"""A check's result in flightline's event log (orchestration/dagster_private/event_log.py,
`_store_check_result`): the rows Dagster's stock storage leaves, in every case."""

import pytest
from dagster import AssetCheckKey
from dagster._core.events import DagsterEventType
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from sqlalchemy import select

from tests.orchestration.dagster_events import (
    ASSET,
    CHECKS,
    evaluations,
    instance_for,
    planned_checks,
    restore_environment,
)


def test_a_checks_result_is_recorded_as_dagsters_own_storage_records_it(tmp_path, monkeypatch):
    """A check's result, stored on its own (flightline's `_store_check_result`): planned
    then decided, decided with nothing planned (inserted), with partitions and without;
    the checks' executions and both logs as Dagster's stock storage leaves them."""
    restore_environment(monkeypatch)
    days = ["2013-01-01", "2013-01-02"]
    events = [
        *planned_checks("run-1", days),
        *planned_checks("run-3", None),
        *evaluations("run-1", days),
        *evaluations("run-2", days),  # nothing planned
        *evaluations("run-3", None),
    ]
    seen = {}
    for name in ("stock", "flightline"):
        instance = instance_for(tmp_path / name, stock=name == "stock")
        storage = instance.event_log_storage
        for event in events:
            storage.store_event(event)
        executions = [
            (
                check,
                r.id,
                r.run_id,
                r.partition,
                r.status.value,
                r.event and r.event.dagster_event.event_specific_data.metadata["failed_rows"].value,
                r.event and r.event.timestamp,
            )
            for check in CHECKS
            for r in storage.get_asset_check_execution_history(
                AssetCheckKey(ASSET, check), limit=100
            )
        ]
        logs = [
            (r.storage_id, r.event_log_entry.dagster_event_type, r.event_log_entry.timestamp)
            for run in ("run-1", "run-2", "run-3")
            for r in storage.get_records_for_run(run, limit=100).records
        ]
        with storage.index_connection() as conn:  # every column but when the row was made
            rows = [
                {k: v for k, v in row._mapping.items() if k != "create_timestamp"}
                for row in conn.execute(select(AssetCheckExecutionsTable).order_by("id"))
            ]
        seen[name] = executions, logs, rows
    assert seen["flightline"] == seen["stock"]
    assert len(seen["stock"][2]) == 10
    executions, _, _ = seen["stock"]
    assert {(e[2], e[3], e[4]) for e in executions} == {
        ("run-1", "2013-01-01", "SUCCEEDED"),
        ("run-1", "2013-01-02", "FAILED"),
        ("run-2", "2013-01-01", "SUCCEEDED"),
        ("run-2", "2013-01-02", "FAILED"),
        ("run-3", None, "FAILED"),
    }
    assert len(executions) == 2 * 5  # each check: five executions, none twice


def test_a_result_for_a_check_planned_twice_is_kept_and_refused_as_dagster_does(
    tmp_path, monkeypatch
):
    """Two planned rows for one check and run (without partitions: the table's unique index
    lets NULL partitions repeat): Dagster's storage writes the result (both logs, both rows)
    and then raises; so does flightline's, leaving the same rows."""
    from dagster._core.errors import DagsterInvariantViolationError

    restore_environment(monkeypatch)
    seen = {}
    for name in ("stock", "flightline"):
        instance = instance_for(tmp_path / name, stock=name == "stock")
        storage = instance.event_log_storage
        for event in [*planned_checks("run-1", None), *planned_checks("run-1", None)]:
            storage.store_event(event)
        evaluation = evaluations("run-1", None)[0]
        with pytest.raises(DagsterInvariantViolationError, match="Updated 2 rows"):
            storage.store_event(evaluation)
        with storage.index_connection() as conn:
            rows = [
                (row.check_name, row.partition, row.execution_status)
                for row in conn.execute(select(AssetCheckExecutionsTable).order_by("id"))
            ]
        logged = [
            r.event_log_entry.dagster_event_type
            for r in storage.get_records_for_run("run-1").records
        ]
        seen[name] = rows, logged
    assert seen["flightline"] == seen["stock"]
    rows, logged = seen["stock"]
    assert rows.count(("expectations", None, "FAILED")) == 2  # the one day, its last: failed
    assert logged[-1] == DagsterEventType.ASSET_CHECK_EVALUATION
