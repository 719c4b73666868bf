"""Dagster events as flightline's runs record them, and instances on Dagster's stock storage
or flightline's (orchestration/dagster_private/): what the event log's and the instance's
tests compare."""

import time
from pathlib import Path

from dagster import AssetKey, AssetMaterialization, DagsterInstance, DailyPartitionsDefinition
from dagster._core.definitions.asset_checks.asset_check_evaluation import (
    AssetCheckEvaluation,
    AssetCheckEvaluationPlanned,
)
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry

from ingest.settings import Settings
from orchestration.dagster_private import BatchingSqliteEventLogStorage
from orchestration.instance import prepare_dagster_home

ASSET = AssetKey(["marts", "fct_flights"])
CHECKS = ("expectations", "no_duplicates")


def entry(
    run_id: str,
    kind: DagsterEventType,
    data,
    step_key: str | None = "dbt_daily_models",
) -> EventLogEntry:
    """A Dagster event of `kind` carrying `data`, as a run's log entry (a run's planned
    check has no step: `step_key=None`)."""
    return EventLogEntry(
        user_message="",
        level=20,
        job_name="feature_pipeline",
        run_id=run_id,
        error_info=None,
        timestamp=time.time(),
        step_key="dbt_daily_models",
        dagster_event=DagsterEvent(
            event_type_value=kind.value,
            job_name="feature_pipeline",
            step_key=step_key,
            event_specific_data=data,
        ),
    )


def materializations(run_id: str, days: list[str]) -> list[EventLogEntry]:
    return [
        entry(
            run_id,
            DagsterEventType.ASSET_MATERIALIZATION,
            StepMaterializationData(
                AssetMaterialization(
                    ASSET,
                    partition=day,
                    metadata={"dagster/row_count": rows},
                    tags={"dagster/data_version": f"v{rows}"},
                )
            ),
        )
        for rows, day in enumerate(days)
    ]


def planned_checks(run_id: str, days: list[str] | None) -> list[EventLogEntry]:
    """What a run records as it starts: a planned evaluation per check, for its days (None:
    a check without partitions)."""
    subset = days and (
        DailyPartitionsDefinition(start_date=days[0])
        .subset_with_partition_keys(days)
        .to_serializable_subset()
    )
    return [
        entry(
            run_id,
            DagsterEventType.ASSET_CHECK_EVALUATION_PLANNED,
            AssetCheckEvaluationPlanned(asset_key=ASSET, check_name=name, partitions_subset=subset),
            step_key=None,
        )
        for name in CHECKS
    ]


def evaluations(run_id: str, days: list[str] | None) -> list[EventLogEntry]:
    last = (days or [None])[-1]
    return [
        entry(
            run_id,
            DagsterEventType.ASSET_CHECK_EVALUATION,
            AssetCheckEvaluation(
                asset_key=ASSET,
                check_name=name,
                passed=day != last,
                metadata={"failed_rows": int(day == last)},
                partition=day,
            ),
        )
        for name in CHECKS
        for day in days or [None]
    ]


def restore_environment(monkeypatch) -> None:
    # prepare_dagster_home sets these in os.environ; monkeypatch puts them back after.
    for name in ("DAGSTER_HOME", "DAGSTER_EVENT_BATCH_SIZE"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def instance_for(folder: Path, stock: bool) -> DagsterInstance:
    """The Dagster instance of a data directory at `folder`: on Dagster's stock storage, as
    configured by default, or as flightline prepares it."""
    home = Settings(home=folder)
    if stock:
        home.dagster_home.mkdir(parents=True)
        (home.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    else:
        prepare_dagster_home(home)
    instance = DagsterInstance.from_config(str(home.dagster_home))
    assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage) != stock
    return instance
