"""`flightline run`: a client of the Definitions. It asks the planner (orchestration/
planner.py, the same one the automation's sensor asks) what to run next, launches each run
on the instance under data/dagster_home, prints what came out, and asks again until nothing
is left; then it publishes the analysts' snapshot once.

Only two things here are the command's own: which files are new (by content hash, from the
loader, where the sensor compares sizes and times) and the person's flags (--from/--to
rebuild a window, --retrain trains once more, --cutoff, --score-from/--score-to).
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from datetime import date

import duckdb

from ingest.catalog import FEEDS, FIRST_DAY, LAST_DAY
from ingest.landing import partition_key
from ingest.loader import Loader
from ingest.publish import snapshot_path
from ingest.settings import Settings
from ingest.summary import quarantine_counts, table_counts
from ingest.warehouse import connect
from ml.monitoring import POOLED_AUC_SQL
from ml.training_config import DEFAULT_CUTOFF, VALIDATION_DAYS
from orchestration.planner import (
    FEATURE_JOB,
    GATE_CHECK,
    GATE_JOB,
    INFERENCE_JOB,
    NOTHING_LANDED,
    TRAINING_JOB,
    Landed,
    Policy,
    Request,
    held_note,
    next_runs,
)
from orchestration.progress import RunProgress


@dataclass
class RunOptions:
    window: tuple[str, str] | None = None
    train: bool = True
    retrain: bool = False
    cutoff: date = DEFAULT_CUTOFF
    validation_days: int = VALIDATION_DAYS
    scoring_range: tuple[str, str] | None = None
    """Score only these days; by default every day from the champion's cutoff."""
    score: bool = True
    trigger: str = "flightline run"

    def policy(self) -> Policy:
        return Policy(
            cutoff=self.cutoff,
            validation_days=self.validation_days,
            train=self.train,
            score=self.score,
            scoring_range=self.scoring_range,
        )


def landed_files(settings: Settings, instance) -> Landed:
    """The days (and whether a reference table) with files the warehouse has not loaded, by
    content hash: the loader's own test of what is new."""
    con = connect(settings.warehouse)
    try:
        loader = Loader(con, settings.landing, settings.quarantine)
        days: set[str] = set()
        reference = misnamed = False
        for feed in FEEDS:
            suffix = feed.pattern.rsplit("*", 1)[-1]
            for path in loader.pending(feed):
                if not feed.is_daily:
                    reference = True
                elif key := partition_key(path.name.removesuffix(suffix)):
                    days.add(key)
                else:
                    misnamed = True
    finally:
        con.close()
    if misnamed:
        # A daily file not named by one of the pipeline's days: every daily load takes it
        # and quarantines it by its name; the cheapest such load is the latest day's.
        from dagster import AssetKey, DagsterEventType

        loaded = instance.event_log_storage.get_latest_storage_id_by_partition(
            AssetKey(["raw", "schedules"]), DagsterEventType.ASSET_MATERIALIZATION
        )
        days.add(max(loaded, default=FIRST_DAY.isoformat()))
    return Landed(frozenset(days), reference)


@dataclass
class Launched:
    request: Request
    result: object
    held: dict[str, str] = field(default_factory=dict)
    """Days the scoring gate failed in this run, with why."""


def drive(launcher: Launcher, landed: Landed, policy: Policy, retrain: Request | None = None):
    """Launch what the planner asks for until it asks for nothing new. `retrain`: a training
    run the person asked for, launched once the features are built. Returns (every run
    succeeded, what was launched)."""
    tried: set[str] = set()
    said: set[str] = set()
    launched: list[Launched] = []
    ok = True
    while True:
        plan = next_runs(launcher.instance, landed, policy)
        notes = list(plan.notes)
        unreported = {d: why for d, why in plan.held.items() if d not in said}
        if unreported:
            notes.append(held_note(unreported))
            said |= unreported.keys()
        for note in notes:
            if note not in said:
                print(note)
                said.add(note)
        todo = [request for request in plan.requests if request.run_key not in tried]
        if retrain is not None and plan.stage != "features":
            todo, retrain = [retrain], None
        if not todo:
            if ok and plan.requests:  # it ran and succeeded, yet the records ask for it again
                print(f"stopping: the planner asks again for what just ran: {plan.requests[0]}")
            return ok and not plan.requests, launched
        landed = Landed()
        said.add(NOTHING_LANDED)  # said once at most, before the first run
        for request in todo:
            tried.add(request.run_key)
            print(request.summary)
            result = launcher.launch(
                request.job,
                window=request.window,
                run_config=request.run_config,
                selection=request.selection,
                checks=request.checks,
                tags=request.tags,
            )
            held = _gated_days(result) if request.job == GATE_JOB else {}
            for day, reason in sorted(held.items()):
                print(f"  NOT SCORED {day}: the scoring gate failed: {reason}")
                said.add(day)
            launched.append(Launched(request, result, held))
            ok = ok and result.success


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

    def launch(
        self, job_name: str, window=None, run_config=None, selection=None, checks=None, tags=None
    ):
        """Run a job (its assets `selection` and their `checks`, when given) and report."""
        from orchestration import dagster_private

        if selection is not None and checks is None:
            from orchestration.planner import job_checks

            checks = job_checks(job_name, selection)
        all_tags = {"flightline/trigger": "cli", "flightline/pid": str(os.getpid()), **(tags or {})}
        if window is not None:
            all_tags["dagster/asset_partition_range_start"] = window[0]
            all_tags["dagster/asset_partition_range_end"] = window[1]
        quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
        config = {**quiet, **(run_config or {})}
        wait_for_warehouse_pool(self.instance)
        if not self.announced:
            # dagster-dbt echoes every dbt log line to stdout: keep the console to progress
            # and results, and the full output (also in the UI's run logs) in a file.
            print(f"  full dbt and Dagster output: {self.log_path}")
            self.announced = True
        with (
            RunProgress(self.instance, job_name, window, sys.stdout),
            self.log_path.open("a") as log,
            contextlib.redirect_stdout(log),
            contextlib.redirect_stderr(log),
            _stderr_of_children_to(log),
        ):
            if dagster_private.enabled():
                # A run the UI can re-execute and lists under its job, run in this process.
                result = dagster_private.execute_as_ui_run(
                    self.instance,
                    job_name,
                    config,
                    all_tags,
                    set(selection) if selection is not None else None,
                    set(checks) if checks is not None else None,
                )
            else:
                job = self.defs.resolve_job_def(job_name)
                if selection is not None:
                    job = job.get_subset(
                        asset_selection=set(selection), asset_check_selection=set(checks)
                    )
                result = job.execute_in_process(
                    instance=self.instance, tags=all_tags, run_config=config, raise_on_error=False
                )
        self.run_ids.append(result.run_id)
        if _interrupted(result):
            # Dagster turns Ctrl-C into a failed step and a failed run: say what happened,
            # once, and stop the command (main prints "stopped" and exits 130).
            print(f"  {job_name} run {result.run_id} stopped by Ctrl-C (marked failed)")
            raise KeyboardInterrupt
        _report_steps(result)
        # The gate's verdicts were reported by the scoring_gate run that preceded this one.
        _report_checks(result, gate=job_name != INFERENCE_JOB)
        status = "succeeded" if result.success else "FAILED"
        print(f"  {job_name} run {result.run_id} {status}")
        return result


def recover_abandoned_runs(instance) -> list[str]:
    """Runs a flightline command started in a process that is gone (killed, machine
    restarted) still say STARTED and still hold the warehouse pool's one slot, so every
    later run would wait for it forever. Mark them failed and free their slots.

    Called only while this process holds the data directory's lock (ingest/datadir.py):
    the kernel frees that lock when a process dies, so every CLI run still STARTED belongs
    to a process that is gone, whatever its recorded PID now names."""
    from dagster import DagsterRunStatus, RunsFilter

    from orchestration.sensors import started_by_command

    recovered = []
    runs = instance.get_runs(
        filters=RunsFilter(statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING])
    )
    # Every run a flightline command launches carries its PID (a replay's training runs
    # carry the retraining sensor's trigger, but the PID all the same).
    for run in (r for r in runs if started_by_command(r)):
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


@contextlib.contextmanager
def _stderr_of_children_to(log):
    """The processes a run starts (dbt, Dagster's orphan watcher) write to file descriptor 2,
    not to sys.stderr: send it to the log too. Otherwise Ctrl-C, which the terminal sends
    to every process of the command, ends in their KeyboardInterrupt tracebacks."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        os.dup2(log.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _interrupted(result) -> bool:
    return any(
        event.event_type_value == "STEP_FAILURE"
        and event.event_specific_data.error is not None
        and event.event_specific_data.error.cls_name == "DagsterExecutionInterruptedError"
        for event in result.all_events
    )


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


GATE = (GATE_CHECK.asset_key, GATE_CHECK.name)


def _report_checks(result, gate: bool = True) -> None:
    """Name the checks that did not pass: warnings do not fail a run, but must be seen. One
    line per check: a check that failed on many days says how many, which, and one day's
    finding (every day's is on the check's page in the UI)."""
    failed: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        held = evaluation.severity.value == "ERROR"
        if (evaluation.asset_key, evaluation.check_name) == GATE and (held or not gate):
            continue  # the days the gate holds are reported as NOT SCORED
        if not evaluation.passed:
            key = (
                evaluation.severity.value.lower(),
                evaluation.asset_key.to_user_string(),
                evaluation.check_name,
            )
            failed.setdefault(key, []).append(
                (evaluation.partition or "", evaluation.description or "")
            )
    for (severity, asset, check), days in failed.items():
        (first, finding), count = days[0], len(days)
        if count == 1:
            where = f" [{first}]" if first else ""
            print(f"  check did not pass ({severity}): {asset} {check}{where}" + _said(finding))
            continue
        listed = ", ".join(day for day, _ in days[:3]) + (", ..." if count > 3 else "")
        print(
            f"  check did not pass ({severity}) on {count} days: {asset} {check} ({listed}; "
            f"each day's finding on its check page in the UI)"
            + _said(f"{first}: {finding}" if finding else "")
        )


def _said(finding: str, limit: int = 160) -> str:
    if not finding:
        return ""
    return ": " + (finding if len(finding) <= limit else finding[: limit - 3] + "...")


def _gated_days(result) -> dict[str, str]:
    """Days the scoring gate failed (error) in a run, with why."""
    gated = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        key = (evaluation.asset_key, evaluation.check_name)
        if key == GATE and not evaluation.passed and evaluation.severity.value == "ERROR":
            gated[evaluation.partition] = evaluation.description or ""
    return gated


def print_model_report(settings: Settings, options: RunOptions) -> None:
    rows = _read(
        settings,
        """
        select model_version, algorithm, validation_roc_auc,
            metrics->>'baseline_roc_auc', validation_start::varchar, validation_end::varchar,
            cutoff_date::varchar
        from ml.model_registry where status = 'champion'
        """,
    )
    if not rows:
        return
    version, algorithm, validation_auc, baseline_auc, val_start, val_end, cutoff = rows[0]
    print(f"\nchampion {version} ({algorithm})")
    print(f"  validation ROC AUC    {validation_auc:.4f}  ({val_start} .. {val_end})")
    if baseline_auc is not None:
        print(f"  baseline ROC AUC      {float(baseline_auc):.4f}  (route delay rate, same window)")
    if options.score:
        start, end = options.scoring_range or (cutoff, LAST_DAY.isoformat())
        pooled = _read(settings, POOLED_AUC_SQL, [version, start, end])
        if pooled and pooled[0][0]:
            flights, auc = pooled[0]
            print(
                f"  out-of-time ROC AUC   {auc:.4f}  ({start} .. {end}, "
                f"{flights:,} flights with outcomes)"
            )


def run_plans(settings: Settings, launcher: Launcher, options: RunOptions):
    """What `flightline run` and each evening of `flightline replay` do: the window the
    person asked to rebuild, if any, then whatever the planner asks for."""
    ok, launched = True, []
    if options.window is not None:
        start, end = options.window
        request = Request(
            FEATURE_JOB,
            f"feature pipeline: one run for flight dates {start} .. {end} (--from/--to)",
            run_key=f"rebuild-{start}-{end}-{time.time_ns()}",
            window=options.window,
            tags={"flightline/includes_reference": "true"},
        )
        print(request.summary)
        result = launcher.launch(request.job, window=request.window, tags=request.tags)
        launched.append(Launched(request, result))
        if not result.success:
            return False, launched
    retrain = None
    if options.retrain and options.train:
        from orchestration.assets.ml import training_run_config

        cutoff = options.cutoff.isoformat()
        retrain = Request(
            TRAINING_JOB,
            f"training pipeline: train on flights before {cutoff} (--retrain)",
            run_key=f"retrain-{cutoff}-{time.time_ns()}",
            run_config=training_run_config(cutoff, options.trigger, options.validation_days),
            tags={"flightline/cutoff": cutoff},
        )
    planned_ok, planned = drive(
        launcher, landed_files(settings, launcher.instance), options.policy(), retrain
    )
    return ok and planned_ok, launched + planned


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

    ok, _ = run_plans(settings, launcher, options)
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
