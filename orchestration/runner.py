"""`flightline run`: a client of the Definitions. It asks the planner (orchestration/
planner.py, the same one the automation's sensor asks) what to run next, launches each run
on the instance under data/dagster_home, prints what came out, and asks again until nothing
is left; then it publishes the analysts' snapshot once.

Only two things here are the command's own: which files are new (by content hash, from the
loader, where the sensor compares sizes and times) and the person's flags (--from/--to
rebuild a window, --retrain trains once more, --cutoff, --score-from/--score-to).
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from datetime import date

from ingest.catalog import FEEDS, FIRST_DAY
from ingest.landing import partition_key
from ingest.load.loader import Loader
from ingest.publish import snapshot_path
from ingest.settings import Settings
from ingest.warehouse import connect
from ml.training_config import DEFAULT_CUTOFF, VALIDATION_DAYS
from orchestration.keys import FEATURE_JOB, GATE_JOB, PUBLISH_JOB, TRAINING_JOB
from orchestration.launcher import Launcher, ready_launcher
from orchestration.planner import NOTHING_LANDED, Landed, Policy, Request, held_note, next_runs
from orchestration.run_report import gated_days, print_model_report, print_summary


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
            held = gated_days(result) if request.job == GATE_JOB else {}
            for day, reason in sorted(held.items()):
                print(f"  NOT SCORED {day}: the scoring gate failed: {reason}")
                said.add(day)
            launched.append(Launched(request, result, held))
            ok = ok and result.success


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
        from orchestration.assets.training import training_run_config

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
    options = options or RunOptions()
    started = time.perf_counter()
    launcher = ready_launcher(settings)
    # Python's cycle collector leaves alone what the imports and the Definitions made
    # (Dagster, dagster-dbt's manifest, GX: ~530k objects), which lives as long as the
    # command does: the full collections of a cold year 2.7 -> 1.8-2.1 s (gc.callbacks), and
    # the year alternating with and without it in one hour 50.0 -> 48.8 s median. Undone
    # at the end, for a caller that goes on (a test).
    gc.freeze()
    try:
        return _run_and_publish(settings, options, launcher, started)
    finally:
        gc.unfreeze()


def _run_and_publish(
    settings: Settings, options: RunOptions, launcher: Launcher, started: float
) -> int:
    ok, _ = run_plans(settings, launcher, options)
    if not ok:
        print(f"a run failed; see its logs in the UI (flightline ui) or {launcher.log_path}")
        return 1
    print_model_report(settings, options)
    if launcher.run_ids or not snapshot_path(settings.warehouse).exists():
        runs = list(launcher.run_ids)
        result = launcher.launch(
            PUBLISH_JOB,
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
