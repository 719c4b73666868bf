"""`flightline run`: plan what has to happen, launch one Dagster run per pipeline on the
instance under data/dagster_home, and print what came out.

1. feature pipeline over the window of dates with new (or not yet built) files;
2. training pipeline when no model has been trained for the cutoff yet (or --retrain);
3. inference pipeline over the days of the scoring range the champion has not scored.
"""

from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from ingest.catalog import FEEDS, FIRST_DAY
from ingest.landing import partition_key
from ingest.loader import Loader
from ingest.publish import snapshot_path
from ingest.settings import Settings
from ingest.summary import quarantine_counts, table_counts
from ingest.warehouse import connect
from ingest.windows import contiguous_ranges, plan_window
from ml.monitoring import POOLED_AUC_SQL
from ml.planning import DEFAULT_CUTOFF, MIN_TRAINING_ROWS, days_to_score

SCORING_RANGE = ("2013-10-01", "2013-12-31")


@dataclass
class RunOptions:
    window: tuple[str, str] | None = None
    train: bool = True
    retrain: bool = False
    cutoff: date = DEFAULT_CUTOFF
    validation_days: int = 28
    scoring_range: tuple[str, str] | None = SCORING_RANGE
    trigger: str = "flightline run"


def _pending(settings: Settings):
    con = connect(settings.warehouse)
    try:
        loader = Loader(con, settings.landing, settings.quarantine)
        partitions: set[str] = set()
        reference_changed = misnamed = False
        for feed in FEEDS:
            suffix = feed.pattern.rsplit("*", 1)[-1]
            for path in loader.pending(feed):
                if not feed.is_daily:
                    reference_changed = True
                elif key := partition_key(path.name.removesuffix(suffix)):
                    partitions.add(key)
                else:
                    misnamed = True
        loaded = con.execute(
            "select min(flight_date)::varchar, max(flight_date)::varchar from raw.schedules"
        ).fetchone()
        if misnamed:
            # A daily file not named by one of the pipeline's days: every daily load takes
            # it and quarantines it by its name; the cheapest such load is the latest day's.
            partitions.add(loaded[1] or FIRST_DAY.isoformat())
        dims_built = (
            con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'marts' and table_name like 'dim_%'"
            ).fetchone()[0]
            > 0
        )
        batches = {
            batch_id: (keys, loaded_at)
            for batch_id, keys, loaded_at in con.execute(
                """
                select batch_id, list(distinct partition_key), epoch(max(logged_at))
                from ingest.file_log where status = 'loaded' group by batch_id
                """
            ).fetchall()
        }
    finally:
        con.close()
    loaded_range = (loaded[0], loaded[1]) if loaded[0] else None
    return partitions, reference_changed, loaded_range, batches, dims_built


def _unbuilt(launcher: Launcher, batches: dict) -> tuple[set[str], bool]:
    """Dates loaded by a batch whose run did not succeed, and that no successful feature run
    has covered since: their dbt build has to be redone."""
    from dagster import DagsterRunStatus, RunsFilter

    instance = launcher.instance
    statuses = {batch_id: instance.get_run_by_id(batch_id) for batch_id in batches}
    if all(run is not None and run.status == DagsterRunStatus.SUCCESS for run in statuses.values()):
        return set(), False
    successes = [
        (
            record.start_time or 0.0,
            record.dagster_run.tags.get("dagster/asset_partition_range_start"),
            record.dagster_run.tags.get("dagster/asset_partition_range_end"),
            # An empty selection is the whole job; the CLI tags runs that skip the reference.
            not record.dagster_run.asset_selection
            or record.dagster_run.tags.get("flightline/includes_reference") == "true",
        )
        for record in instance.get_run_records(
            RunsFilter(job_name="feature_pipeline", statuses=[DagsterRunStatus.SUCCESS])
        )
    ]
    partitions: set[str] = set()
    reference = False
    for batch_id, (keys, loaded_at) in batches.items():
        run = statuses[batch_id]
        if run is not None and run.status == DagsterRunStatus.SUCCESS:
            continue
        later = [s for s in successes if s[0] >= loaded_at]
        for key in keys:
            if key is None:
                if not any(full for *_, full in later):
                    reference = True
            elif not any(start and start <= key <= end for _, start, end, _ in later):
                partitions.add(key)
    return partitions, reference


def _read(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    if not settings.warehouse.exists():
        return []
    con = connect(settings.warehouse, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()


def print_summary(settings: Settings, seconds: float) -> None:
    con = connect(settings.warehouse)
    try:
        counts = table_counts(con)
        quarantine = quarantine_counts(con)
    finally:
        con.close()
    width = max(len(name) for name, _ in counts) if counts else 10
    print("\nwarehouse", settings.warehouse)
    for name, rows in counts:
        print(f"  {name:<{width}}  {rows:>10,}")
    print(
        f"  quarantined: {quarantine['quarantined_rows']:,} rows, "
        f"{quarantine['quarantined_files']:,} files"
    )
    print(f"done in {seconds:.1f}s")


class Launcher:
    """Runs jobs of the Definitions in process, on the persistent instance, output to a log."""

    def __init__(self, settings: Settings) -> None:
        from dagster import DagsterInstance

        self.instance = DagsterInstance.get()
        self._defs = None
        self.run_ids: list[str] = []
        log_dir = settings.home / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"run-{time.strftime('%Y%m%dT%H%M%S')}.log"
        self.announced = False

    @property
    def defs(self):
        # Loading the Definitions imports dbt, scikit-learn and matplotlib: only when needed.
        if self._defs is None:
            from orchestration.definitions import defs

            self._defs = defs
        return self._defs

    def launch(self, job_name: str, window=None, run_config=None, selection=None, tags=None):
        job = self.defs.resolve_job_def(job_name)
        if selection is not None:
            # Not execute_in_process(asset_selection=...): that adds every check of the
            # selected assets, even those the job leaves out (the scoring gate in the feature
            # pipeline). Subset assets and the job's own checks explicitly.
            checks = {
                key
                for key in job.asset_layer.asset_graph.asset_check_keys
                if key.asset_key in set(selection)
            }
            job = job.get_subset(asset_selection=set(selection), asset_check_selection=checks)
        all_tags = {"flightline/trigger": "cli", "flightline/pid": str(os.getpid()), **(tags or {})}
        if window is not None:
            all_tags["dagster/asset_partition_range_start"] = window[0]
            all_tags["dagster/asset_partition_range_end"] = window[1]
        wait_for_warehouse_pool(self.instance)
        if not self.announced:
            # dagster-dbt echoes every dbt log line to stdout: keep the console to progress
            # and results, and the full output (also in the UI's run logs) in a file.
            print(f"  full dbt and Dagster output: {self.log_path}")
            self.announced = True
        with (
            self.log_path.open("a") as log,
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
        ):
            result = job.execute_in_process(
                instance=self.instance,
                tags=all_tags,
                run_config={
                    "loggers": {"console": {"config": {"log_level": "WARNING"}}},
                    **(run_config or {}),
                },
                raise_on_error=False,
            )
        self.run_ids.append(result.run_id)
        _report_steps(result)
        _report_checks(result)
        status = "succeeded" if result.success else "FAILED"
        print(f"  {job_name} run {result.run_id} {status}")
        return result

    def partitioned_keys(self, job_name: str):
        graph = self.defs.resolve_job_def(job_name).asset_layer.asset_graph
        return [key for key in graph.executable_asset_keys if graph.get(key).partitions_def]


def recover_abandoned_runs(instance) -> list[str]:
    """Runs a flightline command started in a process that is gone (killed, machine
    restarted) still say STARTED and still hold the warehouse pool's one slot, so every
    later run would wait for it forever. Mark them failed and free their slots.

    Called only while this process holds the data directory's lock (ingest/datadir.py):
    the kernel frees that lock when a process dies, so every CLI run still STARTED belongs
    to a process that is gone, whatever its recorded PID now names."""
    from dagster import DagsterRunStatus, RunsFilter

    recovered = []
    runs = instance.get_runs(
        filters=RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING])
    )
    # Every run a flightline command launches carries its PID (a replay's training runs
    # carry the retraining sensor's trigger, but the PID all the same).
    for run in (r for r in runs if "flightline/pid" in r.tags):
        pid = run.tags.get("flightline/pid", "?")
        instance.report_run_failed(
            run, message=f"the flightline process (pid {pid}) that ran it is gone"
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        recovered.append(run.run_id)
    return recovered


def wait_for_warehouse_pool(instance, poll_seconds: float = 2.0) -> None:
    """Before a launch: if a run started elsewhere (the UI, its daemon) holds the warehouse
    pool's slot, say which one and wait here, where Ctrl-C stops the command, rather than
    inside Dagster's step launcher, which waits in silence."""
    from orchestration.partitions import WAREHOUSE_POOL

    said = None
    while True:
        info = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
        holders = sorted({slot.run_id for slot in info.claimed_slots})
        for run_id in list(holders):
            run = instance.get_run_by_id(run_id)
            if run is None or run.is_finished:  # its worker died without freeing the slot
                instance.event_log_storage.free_concurrency_slots_for_run(run_id)
                print(f"  freed the warehouse slot of run {run_id}, which has ended")
                holders.remove(run_id)
        if not holders:
            return
        if holders != said:
            run = instance.get_run_by_id(holders[0])
            job = run.job_name if run else "?"
            print(
                f"  waiting: run {holders[0]} ({job}) holds the warehouse (Dagster pool "
                f"{WAREHOUSE_POOL}); Ctrl-C stops waiting"
            )
            said = holders
        time.sleep(poll_seconds)


def _report_steps(result) -> None:
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            seconds = event.event_specific_data.duration_ms / 1000
            print(f"  {event.step_key:<32} {seconds:7.1f}s")
        elif event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            # The step error wraps the asset's own exception: show the cause, it says why.
            while error is not None and error.cause is not None:
                error = error.cause
            message = error.message.strip() if error else "(no message)"
            print(f"  FAILED {event.step_key}: {message}")
        elif event.event_type_value == "STEP_SKIPPED":
            print(f"  skipped {event.step_key} (an upstream blocking check did not pass)")


def _report_checks(result) -> None:
    """Name the checks that did not pass: warnings do not fail a run, but must be seen."""
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        if not evaluation.passed:
            description = evaluation.description or ""
            day = f" [{evaluation.partition}]" if evaluation.partition else ""
            print(
                f"  check did not pass ({evaluation.severity.value.lower()}): "
                f"{evaluation.asset_key.to_user_string()} {evaluation.check_name}{day}"
                + (f": {description}" if description else "")
            )


def run_feature_pipeline(
    settings: Settings, launcher: Launcher, window
) -> tuple[bool, tuple | None]:
    include_reference = True
    if window is None:
        pending, reference_changed, loaded_range, batches, dims_built = _pending(settings)
        unbuilt, unbuilt_reference = _unbuilt(launcher, batches)
        if pending and loaded_range is None:
            loaded_range = (min(pending), max(pending))
        reference_changed = reference_changed or unbuilt_reference
        include_reference = reference_changed or not dims_built
        window = plan_window(pending, unbuilt, reference_changed, loaded_range)
        if window is None:
            print("feature pipeline: nothing new has landed, the warehouse is up to date")
            return True, None
    selection = None
    if not include_reference:
        # Reference tables unchanged: skip the unpartitioned assets (their loader pass and a
        # dbt invocation, ~10 s); the daily ones read the dimensions already built.
        selection = launcher.partitioned_keys("feature_pipeline")
    print(f"feature pipeline: one run for flight dates {window[0]} .. {window[1]}")
    result = launcher.launch(
        "feature_pipeline",
        window=window,
        selection=selection,
        tags={"flightline/includes_reference": str(selection is None).lower()},
    )
    return result.success, window


def run_training_pipeline(settings: Settings, launcher: Launcher, options: RunOptions) -> bool:
    cutoff = options.cutoff.isoformat()
    trained = _read(
        settings, "select count(*) from ml.model_registry where cutoff_date = ?::date", [cutoff]
    )
    if trained and trained[0][0] and not options.retrain:
        print(
            f"training pipeline: a model for the cutoff {cutoff} is registered; "
            "not retraining (--retrain forces it)"
        )
        return True
    validation_start = (options.cutoff - timedelta(days=options.validation_days)).isoformat()
    counts = _read(
        settings,
        "select count(*) filter (where flight_date < ?::date), "
        "count(*) filter (where flight_date >= ?::date and flight_date < ?::date) "
        "from features.flight_features where is_delayed is not null",
        [validation_start, validation_start, cutoff],
    )
    training_rows, validation_rows = counts[0] if counts else (0, 0)
    if training_rows < MIN_TRAINING_ROWS or validation_rows == 0:
        print(
            f"training pipeline: skipped, the warehouse has {training_rows:,} labelled flights "
            f"before {validation_start} and {validation_rows:,} in the validation window "
            f"{validation_start} .. {cutoff}; land more days or pass --cutoff"
        )
        return True
    from orchestration.assets.ml import training_run_config

    print(f"training pipeline: train on flights before {cutoff}")
    result = launcher.launch(
        "training_pipeline",
        run_config=training_run_config(cutoff, options.trigger, options.validation_days),
    )
    return result.success


def run_inference_pipeline(
    settings: Settings, launcher: Launcher, options: RunOptions, rebuilt
) -> bool:
    if options.scoring_range is None:
        return True
    start, end = options.scoring_range
    champion = _read(
        settings, "select model_version from ml.model_registry where status = 'champion'"
    )
    if not champion:
        print("inference pipeline: no champion model yet; nothing scored")
        return True
    feature_days = [
        day
        for (day,) in _read(
            settings,
            "select distinct flight_date::varchar from features.flight_features "
            "where flight_date between ?::date and ?::date",
            [start, end],
        )
    ]
    scored = [
        day
        for (day,) in _read(
            settings,
            "select distinct flight_date::varchar from ml.predictions where model_version = ?",
            [champion[0][0]],
        )
    ]
    days = days_to_score(feature_days, scored, rebuilt)
    held = blocked_days(launcher.instance) & set(days)
    if rebuilt is not None:
        held = {day for day in held if not rebuilt[0] <= day <= rebuilt[1]}
    if held:
        print(
            f"inference pipeline: {len(held)} day(s) stay unscored, blocked by the scoring gate "
            f"and unchanged since: {', '.join(sorted(held))}"
        )
        days = [day for day in days if day not in held]
    if not days:
        print(f"inference pipeline: every day of {start} .. {end} is scored by {champion[0][0]}")
        return True
    ok = True
    pending = contiguous_ranges(days)
    while pending:
        window = pending.pop(0)
        print(f"inference pipeline: score {window[0]} .. {window[1]} with {champion[0][0]}")
        result = launcher.launch("inference_pipeline", window=window)
        if result.success:
            continue
        gated = _gated_days(result)
        if not gated:
            ok = False
            continue
        for day, reason in sorted(gated.items()):
            print(f"  NOT SCORED {day}: the scoring gate failed: {reason}")
        remaining = [d for d in days if window[0] <= d <= window[1] and d not in gated]
        pending = contiguous_ranges(remaining) + pending
    return ok


SCORING_GATE = ("features/flight_features", "ready_to_score")


def _gated_days(result) -> dict[str, str]:
    """Days the scoring gate failed (error) in a run, with why."""
    gated = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        key = (evaluation.asset_key.to_user_string(), evaluation.check_name)
        if key == SCORING_GATE and not evaluation.passed and evaluation.severity.value == "ERROR":
            gated[evaluation.partition] = evaluation.description or ""
    return gated


def blocked_days(instance) -> set[str]:
    """Days whose latest scoring-gate verdict is a failure."""
    from dagster import AssetCheckKey, AssetKey

    key = AssetCheckKey(AssetKey(SCORING_GATE[0].split("/")), SCORING_GATE[1])
    latest: dict[str, bool] = {}
    for record in instance.event_log_storage.get_asset_check_execution_history(key, limit=5000):
        evaluation = record.event.asset_check_evaluation if record.event else None
        if evaluation is None or record.partition is None or record.partition in latest:
            continue
        latest[record.partition] = evaluation.passed or evaluation.severity.value != "ERROR"
    return {day for day, passed in latest.items() if not passed}


def print_model_report(settings: Settings, options: RunOptions) -> None:
    rows = _read(
        settings,
        """
        select model_version, algorithm, validation_roc_auc,
            metrics->>'baseline_roc_auc', validation_start::varchar, validation_end::varchar
        from ml.model_registry where status = 'champion'
        """,
    )
    if not rows:
        return
    version, algorithm, validation_auc, baseline_auc, val_start, val_end = rows[0]
    print(f"\nchampion {version} ({algorithm})")
    print(f"  validation ROC AUC    {validation_auc:.4f}  ({val_start} .. {val_end})")
    if baseline_auc is not None:
        print(f"  baseline ROC AUC      {float(baseline_auc):.4f}  (route delay rate, same window)")
    if options.scoring_range:
        pooled = _read(settings, POOLED_AUC_SQL, [version, *options.scoring_range])
        if pooled and pooled[0][0]:
            flights, auc = pooled[0]
            print(
                f"  out-of-time ROC AUC   {auc:.4f}  ({options.scoring_range[0]} .. "
                f"{options.scoring_range[1]}, {flights:,} flights with outcomes)"
            )


def run_pipeline(settings: Settings, options: RunOptions | None = None) -> int:
    from orchestration.dbt_manifest import ensure_manifest, prepare_partial_parse
    from orchestration.instance import prepare_dagster_home

    options = options or RunOptions()
    started = time.perf_counter()
    prepare_dagster_home(settings)
    ensure_manifest()
    prepare_partial_parse(settings)
    launcher = Launcher(settings)
    for run_id in recover_abandoned_runs(launcher.instance):
        print(f"marked run {run_id} failed: its process is gone; freed its warehouse slot")

    ok, rebuilt = run_feature_pipeline(settings, launcher, options.window)
    if ok and options.train:
        ok = run_training_pipeline(settings, launcher, options)
    if ok:
        ok = run_inference_pipeline(settings, launcher, options, rebuilt)
    if not ok:
        print(f"a run failed; see its logs in the UI (flightline ui) or {launcher.log_path}")
        return 1
    print_model_report(settings, options)
    if launcher.run_ids or not snapshot_path(settings.warehouse).exists():
        runs = list(launcher.run_ids)
        result = launcher.launch(
            "publish_snapshot",
            run_config={"ops": {"analytics__snapshot": {"config": {"runs": runs}}}},
        )
        if not result.success:
            print(f"publishing failed; see its logs in the UI or {launcher.log_path}")
            return 1
        published = result.asset_materializations_for_node("analytics__snapshot")[0].metadata
        print(
            f"\npublished the analysts' snapshot {published['path'].value} "
            f"({published['bytes'].value / 1e6:.0f} MB in {published['seconds'].value:.1f}s)"
        )
    print_summary(settings, time.perf_counter() - started)
    return 0
