import time
import warnings

import pytest
from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetMaterialization,
    AssetObservation,
    DagsterInstance,
    DailyPartitionsDefinition,
)
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationPlanned,
)
from dagster._core.events import (
    AssetMaterializationPlannedData,
    AssetObservationData,
    DagsterEvent,
    DagsterEventType,
    StepMaterializationData,
)
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.schema import AssetCheckExecutionsTable
from sqlalchemy import select

from ingest.settings import Settings
from orchestration.dagster_private import BatchingSqliteEventLogStorage
from orchestration.instance import prepare_dagster_home

ASSET = AssetKey(["marts", "fct_flights"])
CHECKS = ("expectations", "no_duplicates")


def _entry(run_id: str, event: DagsterEvent) -> EventLogEntry:
    return EventLogEntry(
        user_message="",
        level=20,
        job_name="feature_pipeline",
        run_id=run_id,
        error_info=None,
        timestamp=time.time(),
        step_key="dbt_daily_models",
        dagster_event=event,
    )


def _materializations(run_id: str, days: list[str]) -> list[EventLogEntry]:
    return [
        _entry(
            run_id,
            DagsterEvent(
                event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
                job_name="feature_pipeline",
                step_key="dbt_daily_models",
                event_specific_data=StepMaterializationData(
                    AssetMaterialization(
                        ASSET,
                        partition=day,
                        metadata={"dagster/row_count": rows},
                        tags={"dagster/data_version": f"v{rows}"},
                    )
                ),
            ),
        )
        for rows, day in enumerate(days)
    ]


def _planned_checks(run_id: str, days: list[str] | None) -> list[EventLogEntry]:
    """What a run records as it starts: a planned evaluation per check, for its days (None:
    a check without partitions)."""
    subset = days and (
        DailyPartitionsDefinition(start_date=days[0])
        .subset_with_partition_keys(days)
        .to_serializable_subset()
    )
    return [
        _entry(
            run_id,
            DagsterEvent(
                event_type_value=DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED.value,
                job_name="feature_pipeline",
                event_specific_data=AssetCheckEvaluationPlanned(
                    asset_key=ASSET, check_name=name, partitions_subset=subset
                ),
            ),
        )
        for name in CHECKS
    ]


def _evaluations(run_id: str, days: list[str] | None) -> list[EventLogEntry]:
    return [
        _entry(
            run_id,
            DagsterEvent(
                event_type_value=DagsterEventType.ASSET_CHECK_EVALUATION.value,
                job_name="feature_pipeline",
                step_key="dbt_daily_models",
                event_specific_data=AssetCheckEvaluation(
                    asset_key=ASSET,
                    check_name=name,
                    passed=day != (days or [None])[-1],
                    metadata={"failed_rows": int(day == (days or [None])[-1])},
                    partition=day,
                ),
            ),
        )
        for name in CHECKS
        for day in days or [None]
    ]


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


def _restore_environment(monkeypatch) -> None:
    # prepare_dagster_home sets these in os.environ; monkeypatch puts them back after.
    for name in ("DAGSTER_HOME", "DAGSTER_EVENT_BATCH_SIZE"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def _instance(home: Settings, stock: bool) -> DagsterInstance:
    if stock:  # Dagster's own storage, as configured by default
        home.dagster_home.mkdir(parents=True)
        (home.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    else:
        prepare_dagster_home(home)
    instance = DagsterInstance.from_config(str(home.dagster_home))
    assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage) != stock
    return instance


def test_events_are_recorded_as_dagsters_own_storage_records_them(tmp_path, monkeypatch):
    """Batches (one transaction a database) and single events on kept connections leave
    what Dagster's stock SQLite storage leaves: the run's events, the cross-run index,
    partition status, tags and the checks' executions (planned, then passed or failed)."""
    _restore_environment(monkeypatch)
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    recorded, planned = {}, {}
    for name, batched in (("stock", False), ("single", False), ("batch", True)):
        instance = _instance(Settings(home=tmp_path / name), stock=name == "stock")
        storage = instance.event_log_storage
        for events in (_planned_checks("run-1", days), _materializations("run-1", days)):
            if batched:
                storage.store_event_batch(events)
            else:
                for event in events:
                    storage.store_event(event)
        planned[name] = _planned(instance)
        for event in _evaluations("run-1", days):  # Dagster logs these one at a time
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


def test_a_checks_result_is_recorded_as_dagsters_own_storage_records_it(tmp_path, monkeypatch):
    """A check's result, stored on its own (flightline's `_store_check_result`): planned
    then decided, decided with nothing planned (inserted), with partitions and without;
    the checks' executions and both logs as Dagster's stock storage leaves them."""
    _restore_environment(monkeypatch)
    days = ["2013-01-01", "2013-01-02"]
    events = [
        *_planned_checks("run-1", days),
        *_planned_checks("run-3", None),
        *_evaluations("run-1", days),
        *_evaluations("run-2", days),  # nothing planned
        *_evaluations("run-3", None),
    ]
    seen = {}
    for name in ("stock", "flightline"):
        instance = _instance(Settings(home=tmp_path / name), stock=name == "stock")
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

    _restore_environment(monkeypatch)
    seen = {}
    for name in ("stock", "flightline"):
        instance = _instance(Settings(home=tmp_path / name), stock=name == "stock")
        storage = instance.event_log_storage
        for event in [*_planned_checks("run-1", None), *_planned_checks("run-1", None)]:
            storage.store_event(event)
        evaluation = _evaluations("run-1", None)[0]
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
    return _entry(
        run_id,
        DagsterEvent(
            event_type_value=kind.value,
            job_name="feature_pipeline",
            step_key="dbt_daily_models",
            event_specific_data=data,
        ),
    )


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
        _restore_environment(monkeypatch)
        storage = _instance(Settings(home=tmp_path / name), stock=name == "stock").event_log_storage
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
        _restore_environment(monkeypatch)
        storage = _instance(Settings(home=tmp_path / name), stock=name == "stock").event_log_storage
        probes.clear()
        storage.store_event_batch(_materializations("run-1", days))
        for event in [*_evaluations("run-1", days), *_materializations("run-2", days)]:
            storage.store_event(event)
        counted[name] = {probe: probes.count(probe) for probe in probes}
    assert counted["stock"]["last_materialization_timestamp"] == 2 * len(days)
    assert counted["stock"]["asset_check_executions"] == len(CHECKS) * len(days)
    assert counted["flightline"].keys() == counted["stock"].keys()  # the same questions,
    assert set(counted["flightline"].values()) == {1}  # each asked once


def test_a_missing_table_is_asked_again_and_a_table_found_stays_found(tmp_path, monkeypatch):
    from sqlalchemy import text

    _restore_environment(monkeypatch)
    storage = _instance(Settings(home=tmp_path / "home"), stock=False).event_log_storage
    assert not storage.has_table("flightline_later")
    with storage.index_connection() as conn:
        conn.execute(text("create table flightline_later (id integer)"))
    assert storage.has_table("flightline_later")
    storage.wipe()  # deletes rows and run files, not the index's tables
    assert storage.has_table("flightline_later") and storage.has_table("asset_check_executions")


def test_a_batch_that_fails_writes_nothing(tmp_path, monkeypatch):
    """An event that cannot be stored rolls its batch back in both databases (Dagster then
    stores the events one by one), and the storage goes on writing."""
    _restore_environment(monkeypatch)
    instance = _instance(Settings(home=tmp_path / "home"), stock=False)
    storage = instance.event_log_storage
    events = _materializations("run-1", ["2013-01-01", "2013-01-02"])

    def asset_key_row(*args):  # after the events' rows, in the same transaction
        raise RuntimeError("disk full")

    monkeypatch.setattr(storage, "_get_asset_entry_values", asset_key_row)
    with pytest.raises(RuntimeError, match="disk full"):
        storage.store_event_batch(events)
    monkeypatch.undo()
    _restore_environment(monkeypatch)
    assert storage.get_records_for_run("run-1").records == []
    assert instance.get_materialized_partitions(ASSET) == set()
    storage.store_event_batch(events)
    assert instance.get_materialized_partitions(ASSET) == {"2013-01-01", "2013-01-02"}


def test_the_instance_keeps_the_runs_of_a_home_written_before(tmp_path, monkeypatch):
    """A data directory whose dagster.yaml has no flightline block (Dagster's default
    storage) is the operator's: the file is left as it is, and the history stays."""
    _restore_environment(monkeypatch)
    home = Settings(home=tmp_path / "home")
    home.dagster_home.mkdir(parents=True)
    (home.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    before = DagsterInstance.from_config(str(home.dagster_home))
    before.event_log_storage.store_event(_materializations("old-run", ["2013-01-01"])[0])
    prepare_dagster_home(home)
    after = DagsterInstance.from_config(str(home.dagster_home))
    assert after.get_materialized_partitions(ASSET) == {"2013-01-01"}


def test_an_operators_lines_in_dagster_yaml_survive_every_command(tmp_path, monkeypatch):
    _restore_environment(monkeypatch)
    home = Settings(home=tmp_path / "home")
    prepare_dagster_home(home)
    config = home.dagster_home / "dagster.yaml"
    mine = "retention:\n  schedule:\n    purge_after_days: 90\n"
    config.write_text(config.read_text() + mine)
    config.write_text(config.read_text().replace("max_retries: 2", "max_retries: 9"))

    prepare_dagster_home(home)

    text = config.read_text()
    assert text.endswith(mine)  # the operator's lines, where they put them
    assert "max_retries: 2" in text and "max_retries: 9" not in text  # the block is ours
    instance = DagsterInstance.from_config(str(home.dagster_home))
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)

    # Without the block the whole file is the operator's: not touched at all.
    config.write_text(mine)
    prepare_dagster_home(home)
    assert config.read_text() == mine

    # The file flightline wrote whole before the block (naming a module that is gone) is
    # flightline's: replaced. A block pasted twice becomes one.
    config.write_text(
        "# Written by flightline (every command rewrites it: orchestration/instance.py).\n"
        "event_log_storage:\n  module: orchestration.event_log\n"
    )
    prepare_dagster_home(home)
    assert "orchestration.event_log\n" not in config.read_text()
    DagsterInstance.from_config(str(home.dagster_home))
    block = config.read_text()
    config.write_text(block + mine + block)
    prepare_dagster_home(home)
    assert config.read_text().count("# >>> flightline") == 1


def test_the_stock_switch_and_an_untested_dagster_use_dagsters_own_classes(tmp_path, monkeypatch):
    """Private APIs are a speed-up with a way out: FLIGHTLINE_STOCK_DAGSTER, or a Dagster
    series they were not tested on, configures Dagster's stock storage and makes the dbt
    resource call dagster-dbt's own methods."""
    from dagster._core.storage.event_log import SqliteEventLogStorage

    import orchestration.dagster_private as private
    from orchestration.resources import dbt_resource

    for switch in ("env", "version"):
        _restore_environment(monkeypatch)
        if switch == "env":
            monkeypatch.setenv(private.STOCK_SWITCH, "1")
        else:
            monkeypatch.setattr(private, "UNTESTED", ["dagster 9.9"])
        home = Settings(home=tmp_path / switch)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            prepare_dagster_home(home)
        assert (switch == "version") == any("stock storage" in str(w.message) for w in caught)
        instance = DagsterInstance.from_config(str(home.dagster_home))
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        resource = dbt_resource()
        monkeypatch.setattr(
            private.DbtCliResource, "_initialize_dbt_core_adapter", lambda self, args: args
        )
        assert resource._initialize_dbt_core_adapter(["build"]) == ["build"]  # dagster-dbt's
        monkeypatch.undo()
