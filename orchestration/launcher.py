"""Launching runs from a flightline command: jobs of the Definitions run in this process on
the data directory's Dagster instance, their full output to a log and their progress and
results to the console; and what every such command does before its first run (the Dagster
home, the dbt manifest, the runs a dead process left STARTED)."""

from __future__ import annotations

import contextlib
import os
import sys
import time

from ingest.settings import Settings
from orchestration import dagster_private
from orchestration.keys import INFERENCE_JOB
from orchestration.progress import RunProgress
from orchestration.run_report import report_checks, report_steps
from orchestration.selections import job_checks


def ready_launcher(settings: Settings) -> Launcher:
    """A launcher on a prepared data directory: its dagster.yaml written, the dbt manifest
    and partial-parse state current, and the runs of processes that are gone marked failed
    (said on the console), so that their warehouse slot is free."""
    from orchestration.dbt_manifest import prepare_dbt
    from orchestration.instance import prepare_dagster_home

    prepare_dagster_home(settings)
    prepare_dbt(settings)
    launcher = Launcher(settings)
    for run_id in recover_abandoned_runs(launcher.instance):
        print(f"marked run {run_id} failed: its process is gone; freed its warehouse slot")
    return launcher


class Launcher:
    """Runs jobs of the Definitions in process, on the persistent instance, output to a log."""

    def __init__(self, settings: Settings) -> None:
        from dagster import DagsterInstance

        self.instance = DagsterInstance.get()
        self.recorded = settings.recorded
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
        if selection is not None and checks is None:
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
        report_steps(result)
        # The gate's verdicts were reported by the scoring_gate run that preceded this one.
        report_checks(result, gate=job_name != INFERENCE_JOB)
        status = "succeeded" if result.success else "FAILED"
        print(f"  {job_name} run {result.run_id} {status}")
        if not result.success and (self.recorded / result.run_id).exists():
            print(f"    its step again, on the inputs it had: flightline debug {result.run_id}")
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
