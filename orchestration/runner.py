"""`flightline run`: plan the window of dates with new work, launch one Dagster run of the
feature pipeline for it on the instance under data/dagster_home, and print a summary."""

from __future__ import annotations

import contextlib
import time

from ingest.catalog import FEEDS
from ingest.loader import PARTITION_RE, Loader, connect
from ingest.settings import Settings
from ingest.summary import quarantine_counts, table_counts
from ingest.windows import plan_window


def _pending(settings: Settings) -> tuple[set[str], bool, tuple[str, str] | None, dict, bool]:
    con = connect(settings.warehouse)
    try:
        loader = Loader(con, settings.landing, settings.quarantine)
        partitions: set[str] = set()
        reference_changed = False
        for feed in FEEDS:
            for path in loader.pending(feed):
                if feed.is_daily and PARTITION_RE.match(path.stem):
                    partitions.add(path.stem)
                elif not feed.is_daily:
                    reference_changed = True
                else:
                    partitions.add(min(partitions or {"2013-01-01"}))
        loaded = con.execute(
            "select min(flight_date)::varchar, max(flight_date)::varchar from raw.schedules"
        ).fetchone()
        dims_built = (
            con.execute(
                "select count(*) from information_schema.tables "
                "where table_schema = 'marts' and table_name like 'dim_%'"
            ).fetchone()[0]
            > 0
        )
        batches = dict(
            con.execute(
                """
                select batch_id, list(distinct partition_key)
                from ingest.file_log where status = 'loaded' group by batch_id
                """
            ).fetchall()
        )
    finally:
        con.close()
    loaded_range = (loaded[0], loaded[1]) if loaded[0] else None
    return partitions, reference_changed, loaded_range, batches, dims_built


def _unbuilt(instance, batches: dict) -> tuple[set[str], bool]:
    """Dates loaded by runs that did not succeed: their dbt build has to be redone."""
    from dagster import DagsterRunStatus

    partitions: set[str] = set()
    reference = False
    for batch_id, keys in batches.items():
        run = instance.get_run_by_id(batch_id)
        if run is not None and run.status == DagsterRunStatus.SUCCESS:
            continue
        for key in keys:
            if key is None:
                reference = True
            else:
                partitions.add(key)
    return partitions, reference


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


def run_pipeline(settings: Settings, window: tuple[str, str] | None = None) -> int:
    from dagster import DagsterInstance

    from orchestration.cli import prepare_dagster_home
    from orchestration.dbt_manifest import ensure_manifest

    started = time.perf_counter()
    prepare_dagster_home(settings)
    ensure_manifest()
    instance = DagsterInstance.get()
    include_reference = True
    if window is None:
        pending, reference_changed, loaded_range, batches, dims_built = _pending(settings)
        unbuilt, unbuilt_reference = _unbuilt(instance, batches)
        if pending and loaded_range is None:
            loaded_range = (min(pending), max(pending))
        reference_changed = reference_changed or unbuilt_reference
        include_reference = reference_changed or not dims_built
        window = plan_window(pending, unbuilt, reference_changed, loaded_range)
        if window is None:
            print("nothing new has landed: the warehouse is up to date")
            print_summary(settings, time.perf_counter() - started)
            return 0

    from orchestration.definitions import defs

    job = defs.resolve_job_def("feature_pipeline")
    selection = None
    if not include_reference:
        # Reference tables unchanged: skip the unpartitioned assets (their loader pass and
        # a dbt invocation, ~10 s); the daily ones read the dimensions already built.
        graph = job.asset_layer.asset_graph
        selection = [
            key for key in graph.executable_asset_keys if graph.get(key).partitions_def is not None
        ]
    print(f"feature_pipeline: one Dagster run for flight dates {window[0]} .. {window[1]}")
    # dagster-dbt echoes every dbt log line to stdout; keep the console to progress and
    # the summary, and the full output (also in the UI's run logs) in a file.
    log_dir = settings.home / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"run-{time.strftime('%Y%m%dT%H%M%S')}.log"
    print(f"  dbt and Dagster output: {log_path}")
    with log_path.open("w") as log, contextlib.redirect_stdout(log):
        result = _execute(job, instance, window, selection)
    _report_steps(result)
    if not result.success:
        print(f"run {result.run_id} failed; its logs are in the UI (flightline ui) and {log_path}")
        return 1
    _report_checks(result)
    print(f"run {result.run_id} succeeded")
    print_summary(settings, time.perf_counter() - started)
    return 0


def _execute(job, instance, window: tuple[str, str], selection):
    return job.execute_in_process(
        instance=instance,
        tags={
            "dagster/asset_partition_range_start": window[0],
            "dagster/asset_partition_range_end": window[1],
            "flightline/trigger": "cli",
        },
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        raise_on_error=False,
        asset_selection=selection,
    )


def _report_steps(result) -> None:
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            seconds = event.event_specific_data.duration_ms / 1000
            print(f"  {event.step_key:<28} {seconds:7.1f}s")
        elif event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            message = error.message.strip() if error else "(no message)"
            print(f"  FAILED {event.step_key}: {message}")


def _report_checks(result) -> None:
    """Name the checks that did not pass: warnings do not fail a run, but must be seen."""
    failed = []
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        if not evaluation.passed:
            failed.append(
                f"{evaluation.asset_key.to_user_string()}: {evaluation.check_name} "
                f"({evaluation.severity.value.lower()})"
            )
    if failed:
        print(f"  {len(failed)} check(s) did not pass:")
        for line in sorted(failed):
            print(f"    {line}")
