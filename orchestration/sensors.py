"""The automation: one sensor runs the daily loop (what to run comes from the planner), one
run-status sensor publishes the analysts' snapshot after runs. Neither opens the warehouse
(a DuckDB reader would block the writer) nor keeps state of its own: landed files are
compared by modification time with the loads recorded in Dagster, and everything else is
read from Dagster's records too."""

import os
import time

from dagster import (
    AssetKey,
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunStatusSensorContext,
    SensorEvaluationContext,
    SkipReason,
    run_status_sensor,
    sensor,
)

from ingest.settings import get_settings
from orchestration.jobs import (
    feature_pipeline_job,
    inference_pipeline_job,
    publish_job,
    scoring_gate_job,
    training_pipeline_job,
)
from orchestration.planner import Landed
from orchestration.records import Records

# How often the daily loop looks for work (read when the code location loads).
LOOP_SECONDS = int(os.environ.get("FLIGHTLINE_LOOP_SECONDS", "15"))
# How long landing/ must be quiet (no new or changed file) before the loop plans for what
# landed: an evening's files arrive one after another, and planning between two of them
# split one evening into two feature runs. (`flightline run` plans on what is there: the
# person running it says the landing is done.)
SETTLE_SECONDS = float(os.environ.get("FLIGHTLINE_LANDING_SETTLE_SECONDS", "10"))


@sensor(
    jobs=[feature_pipeline_job, training_pipeline_job, scoring_gate_job, inference_pipeline_job],
    minimum_interval_seconds=LOOP_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "The daily loop, hands-off: when no pipeline run is queued or running, asks the "
        "planner (orchestration/planner.py, the one `flightline run` asks) what comes next "
        "and requests it: a feature run for files that landed in data/landing, the first "
        "training or a retraining the monitor asked for, the scoring gate and the scoring of "
        "the days it passed, the evaluation of outcomes that arrived. Turn it off to stop "
        "the automation; the publish sensor still publishes runs started by hand."
    ),
)
def daily_loop(context: SensorEvaluationContext):
    from orchestration.planner import held_note, next_runs
    from orchestration.records import unfinished_runs

    busy = unfinished_runs(context.instance)
    if busy:
        return SkipReason(f"waiting for run {busy[0].run_id} ({busy[0].job_name}) to end")
    landed = landed_since_loads(context.instance, get_settings().landing)
    quiet = time.time() - landed.last_modified
    if quiet < SETTLE_SECONDS:
        return SkipReason(
            f"files are landing (the last {quiet:.0f} s ago): planning once landing/ has "
            f"been quiet for {SETTLE_SECONDS:.0f} s (FLIGHTLINE_LANDING_SETTLE_SECONDS)"
        )
    plan = next_runs(context.instance, landed)
    if not plan.requests:
        notes = [*plan.notes, held_note(plan.held)] if plan.held else plan.notes
        return SkipReason("; ".join(notes) or "nothing to run")
    for request in plan.requests:
        request.tags.setdefault("flightline/trigger", "daily_loop")
    return [request.run_request() for request in plan.requests]


def started_by_command(run) -> bool:
    """A run a flightline command launched (and still owns), not a re-execution of one from
    the UI or by Dagster's run retries, which copy the tags of the run they re-execute."""
    return "flightline/pid" in run.tags and "dagster/parent_run_id" not in run.tags


@run_status_sensor(
    run_status=DagsterRunStatus.SUCCESS,
    request_job=publish_job,
    # As often as the loop (Dagster's default is 30 s): the snapshot follows a run within
    # seconds, and an evening's publishes do not queue behind a tick each.
    minimum_interval_seconds=LOOP_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        "Publishes the analysts' snapshot after every run that succeeded and changed the "
        "warehouse (not the scoring gate's, which only judges), so the UI route publishes as "
        "`flightline run` does. Runs started by a flightline command are left to it: it "
        "publishes once, after its last run."
    ),
)
def publish_after_pipeline_runs(context: RunStatusSensorContext):
    """Every job of the code location is watched (a "Materialize" from the asset graph runs
    an ad-hoc job), except publishing itself."""
    run = context.dagster_run
    if run.job_name == publish_job.name:
        return SkipReason(f"run {run.run_id} published the snapshot itself")
    if run.job_name == scoring_gate_job.name:
        # The gate only judges the features (its verdicts are Dagster's records): the
        # warehouse, and so the snapshot, is what the run before it left. In `dagster dev`
        # every run is a process of its own (~10 s of imports): one publish less an evening.
        return SkipReason(f"run {run.run_id} judged the features and changed no table")
    if started_by_command(run):
        return SkipReason(f"run {run.run_id} was started by a flightline command, which publishes")
    return RunRequest(
        run_key=f"publish-{run.run_id}",
        run_config={"ops": {"analytics__snapshot": {"config": {"runs": [run.run_id]}}}},
        tags={"flightline/trigger": "publish_after_pipeline_runs"},
    )


def landed_since_loads(instance, landing) -> Landed:
    """The loop's question of landing/: files modified after the load that last covered
    their day (or their reference table) began, read from the ingest assets' records, so no
    state of its own. A daily file not named by a pipeline day counts under the latest day
    loaded (the load of that day quarantines it by its name)."""
    from ingest.catalog import FEEDS
    from ingest.landing import discover, partition_key

    records = Records(instance)
    days: set[str] = set()
    reference = False
    newest = 0.0
    now = time.time()
    for feed in FEEDS:
        began = _load_starts(records, AssetKey(["raw", feed.name]))
        suffix = feed.pattern.rsplit("*", 1)[-1]
        for path in discover(landing, feed):
            modified = path.lstat().st_mtime  # a link is not followed (the loader refuses it)
            if not feed.is_daily:
                if modified <= began.get(None, 0.0):
                    continue
                reference = True
            else:
                day = partition_key(path.name.removesuffix(suffix))
                if day is None:
                    day = max(began, default=None, key=lambda k: k or "")
                    if not day or modified <= began[day]:
                        continue
                elif modified <= began.get(day, 0.0):
                    continue
                days.add(day)
            if modified <= now:  # a file dated in the future tells nothing of the landing
                newest = max(newest, modified)
    return Landed(frozenset(days), reference, newest)


def _load_starts(records: Records, key: AssetKey) -> dict[str | None, float]:
    """partition (None when unpartitioned) -> when the load of its newest materialization
    began (its `started_at`; the event's time for records written before it was kept)."""
    starts = {}
    for partition, record in records.latest_records(key).items():
        metadata = record.asset_materialization.metadata
        began = metadata["started_at"].value if "started_at" in metadata else record.timestamp
        starts[partition] = float(began)
    return starts
