"""The landing sensor: notices newly landed or changed feed files and requests one run for
the partitions they belong to. It never opens the warehouse (a DuckDB reader would block
the writer); it compares file sizes and modification times with its cursor."""

import hashlib
import json

from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SkipReason,
    run_status_sensor,
    sensor,
)

from ingest.catalog import FEEDS
from ingest.landing import discover, partition_key
from ingest.settings import get_settings
from ingest.windows import partition_range
from orchestration.jobs import (
    feature_pipeline_job,
    publish_job,
    training_pipeline_job,
)
from orchestration.partitions import daily_partitions


def landed_file_states() -> dict[str, str]:
    """path -> 'size:mtime_ns' for every landed file of every feed."""
    landing = get_settings().landing
    states = {}
    for feed in FEEDS:
        for path in discover(landing, feed):
            stat = path.lstat()  # a link is not followed (the loader refuses it)
            states[str(path)] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return states


def changed_partitions(previous: dict[str, str], current: dict[str, str]) -> tuple[set[str], bool]:
    """Daily partitions with new or changed files, and whether a reference file changed."""
    partitions: set[str] = set()
    reference_changed = False
    for path, state in current.items():
        if previous.get(path) == state:
            continue
        stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
        if partition_key(stem) is not None:
            partitions.add(stem)
        else:
            reference_changed = True
    return partitions, reference_changed


@sensor(
    job=feature_pipeline_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description=(
        "Watches data/landing for new or changed feed files and requests one "
        "feature_pipeline run covering their dates (ingest, then dbt)."
    ),
)
def landing_files_sensor(context: SensorEvaluationContext):
    previous = json.loads(context.cursor) if context.cursor else {}
    current = landed_file_states()
    partitions, reference_changed = changed_partitions(previous, current)
    if not partitions and not reference_changed:
        return SkipReason("no new or changed files in landing/")
    window = partition_range(partitions) or (
        daily_partitions.get_last_partition_key(),
        daily_partitions.get_last_partition_key(),
    )
    context.update_cursor(json.dumps(current))
    return RunRequest(
        run_key=hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest(),
        tags={
            "dagster/asset_partition_range_start": window[0],
            "dagster/asset_partition_range_end": window[1],
            "flightline/trigger": "landing_files_sensor",
        },
    )


def retraining_requests(instance, cursor: int | None) -> tuple[list[RunRequest], int | None]:
    """Run requests for the retraining decisions materialized after `cursor` (a storage id):
    at most one, for the latest decision that asks to retrain. Shared by the sensor and by
    `flightline replay`, so both retrain for the same reasons."""
    from dagster import AssetRecordsFilter

    from orchestration.assets.ml import training_run_config
    from orchestration.assets.monitoring import DECISION

    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=DECISION, after_storage_id=cursor), limit=1000, ascending=True
    ).records
    if not records:
        return [], cursor
    latest = records[-1]
    metadata = latest.asset_materialization.metadata
    new_cursor = latest.storage_id
    if not metadata["retrain"].value:
        return [], new_cursor
    cutoff = str(metadata["cutoff"].value)
    trigger = str(metadata["reason"].value)
    validation_days = (
        int(metadata["validation_days"].value) if "validation_days" in metadata else 28
    )
    return [
        RunRequest(
            run_key=f"retrain-{cutoff}",
            run_config=training_run_config(cutoff, trigger, validation_days),
            tags={"flightline/trigger": "retraining_sensor", "flightline/cutoff": cutoff},
        )
    ], new_cursor


@sensor(
    job=training_pipeline_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description=(
        "Continuous training: reads the latest ml/retraining_decision (never the warehouse) "
        "and requests the training pipeline when it asks to retrain (drift, performance or "
        "age), with the reason recorded as the model's trigger. The new model still has to "
        "pass the promotion gate."
    ),
)
def retraining_sensor(context: SensorEvaluationContext):
    cursor = int(context.cursor) if context.cursor else None
    requests, new_cursor = retraining_requests(context.instance, cursor)
    if new_cursor is not None and new_cursor != cursor:
        context.update_cursor(str(new_cursor))
    if not requests:
        return SkipReason("no new retraining decision asks to retrain")
    return requests


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    request_job=publish_job,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Publishes the analysts' snapshot after every run that succeeded, so the UI route "
        "publishes as `flightline run` does. Runs started by a flightline command are left "
        "to it: it publishes once, after its last run."
    ),
)
def publish_after_pipeline_runs(context: RunStatusSensorContext):
    """Every job of the code location is watched (a "Materialize" from the asset graph runs
    an ad-hoc job), except publishing itself."""
    run = context.dagster_run
    if run.job_name == publish_job.name:
        return SkipReason(f"run {run.run_id} published the snapshot itself")
    if "flightline/pid" in run.tags:
        return SkipReason(f"run {run.run_id} was started by a flightline command, which publishes")
    return RunRequest(
        run_key=f"publish-{run.run_id}",
        run_config={"ops": {"analytics__snapshot": {"config": {"runs": [run.run_id]}}}},
        tags={"flightline/trigger": "publish_after_pipeline_runs"},
    )
