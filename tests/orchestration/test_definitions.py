from datetime import date

import pytest
from dagster import AssetKey, BackfillPolicy, RunRequest, SkipReason, build_sensor_context

from ingest.provider.export import export_feeds
from orchestration.partitions import WAREHOUSE_POOL


def _defs():
    from orchestration.definitions import defs

    return defs


def test_definitions_load_as_the_ui_loads_them(dbt_manifest):
    """What the code server does: every job, op and schedule resolved together (a job named
    like an op passes resolve_job_def and fails here, and the UI shows no code location)."""
    from dagster import Definitions

    Definitions.validate_loadable(_defs())
    assert len(_defs().get_repository_def().get_all_jobs()) >= 6


def test_plain_dagster_dev_parses_a_stale_manifest_and_nothing_else_does():
    """`dagster dev` from the repository root (DAGSTER_IS_DEV_CLI, which it sets) needs no
    manual `dbt parse`: loading the definitions' resources asks for a fresh manifest; any
    other process leaves that to its caller."""
    import os
    import subprocess
    import sys

    probe = (
        "import orchestration.dbt_manifest as m; "
        "m.ensure_manifest = lambda *a, **k: print('ensure_manifest'); "
        "import orchestration.resources"
    )
    for dev, expected in (("1", "ensure_manifest"), (None, "")):
        env = {k: v for k, v in os.environ.items() if k != "DAGSTER_IS_DEV_CLI"}
        if dev:
            env["DAGSTER_IS_DEV_CLI"] = dev
        done = subprocess.run(
            [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
        )
        assert done.stdout.strip() == expected


def test_a_process_that_loads_the_definitions_warns_nothing_and_imports_no_sklearn(
    dbt_manifest,
):
    """As `dagster dev`'s code server and each run it starts load them (not through the
    CLI): no warning on stderr (Dagster's preview and beta notices were ~100 lines of an
    evening's console) and neither scikit-learn nor matplotlib imported (each run's start-up,
    orchestration/definitions.py)."""
    import subprocess
    import sys

    loaded = (
        "import orchestration.definitions, sys; "
        "print(*sorted({'sklearn', 'matplotlib'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", loaded], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""
    assert done.stderr == "", done.stderr


def test_definitions_load_with_every_feed_and_model(dbt_manifest):
    graph = _defs().resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {
        "raw/schedules",
        "raw/actuals",
        "raw/weather",
        "raw/planes",
        "marts/fct_flights",
        "marts/dim_carriers",
        "features/flight_features",
    } <= keys
    # dbt's sources are the ingest assets themselves, not separate source assets.
    assert graph.get(AssetKey(["raw", "schedules"])).is_materializable
    assert (
        AssetKey(["raw", "schedules"])
        in graph.get(AssetKey(["staging", "stg_ops__schedules"])).parent_keys
    )


def test_daily_assets_backfill_in_one_run_and_every_writer_shares_one_pool(dbt_manifest):
    defs = _defs()
    for assets_def in defs.assets:
        assert assets_def.op.pool == WAREHOUSE_POOL, assets_def.node_def.name
        if assets_def.partitions_def is not None:
            assert assets_def.backfill_policy == BackfillPolicy.single_run()


def test_dbt_tests_are_asset_checks(dbt_manifest):
    checks = {
        (key.asset_key.to_user_string(), key.name)
        for key in _defs().resolve_asset_graph().asset_check_keys
    }
    assert ("marts/fct_flights", "unique_fct_flights_flight_id") in checks
    assert ("raw/schedules", "nothing_quarantined") in checks


def test_the_daily_loop_requests_one_feature_run_for_the_dates_of_new_files(
    home, source, dbt_manifest, monkeypatch
):
    import time

    from dagster import AssetMaterialization, DagsterInstance, DagsterRun, DagsterRunStatus

    from ingest.catalog import FEEDS
    from orchestration import sensors
    from orchestration.sensors import daily_loop

    # What it plans, not when (test_sensors.py: it waits for landing/ to be quiet).
    monkeypatch.setattr(sensors, "SETTLE_SECONDS", 0.0)

    export_feeds(home.landing, until=date(2013, 1, 3), source=source)
    with DagsterInstance.ephemeral() as instance:
        (first,) = daily_loop(build_sensor_context(instance=instance))
        assert isinstance(first, RunRequest) and first.job_name == "feature_pipeline"
        assert first.partition_key_range.start == "2013-01-01"
        assert first.partition_key_range.end == "2013-01-04"
        assert first.tags["flightline/trigger"] == "daily_loop"

        # The run loads them: files older than the load of their day are not news.
        loaded_at = time.time()
        for feed in FEEDS:
            for day in ("2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04"):
                instance.report_runless_asset_event(
                    AssetMaterialization(
                        AssetKey(["raw", feed.name]),
                        partition=day if feed.is_daily else None,
                        metadata={"started_at": loaded_at},
                    )
                )
        from orchestration.assets.dbt import dbt_reference_models

        for key in dbt_reference_models.keys:
            instance.report_runless_asset_event(AssetMaterialization(key))
        for day in ("2013-01-01", "2013-01-02", "2013-01-03", "2013-01-04"):
            instance.report_runless_asset_event(
                AssetMaterialization(AssetKey(["features", "flight_features"]), partition=day)
            )
        quiet = daily_loop(build_sensor_context(instance=instance))
        assert isinstance(quiet, SkipReason) and "nothing new has landed" in quiet.skip_message

        time.sleep(0.01)
        export_feeds(home.landing, until=date(2013, 1, 4), source=source)
        # While a pipeline run is queued or running, nothing else is planned.
        instance.add_run(
            DagsterRun(job_name="feature_pipeline", run_id="busy", status=DagsterRunStatus.STARTED)
        )
        waiting = daily_loop(build_sensor_context(instance=instance))
        assert isinstance(waiting, SkipReason) and "waiting for run busy" in waiting.skip_message
        instance.report_run_failed(instance.get_run_by_id("busy"))
        (later, *_) = daily_loop(build_sensor_context(instance=instance))
        assert (later.job_name, later.partition_key_range.start, later.partition_key_range.end) == (
            "feature_pipeline",
            "2013-01-04",
            "2013-01-05",
        )


def test_partitioned_marts_stay_downstream_of_ingest_without_the_unpartitioned_assets(
    dbt_manifest,
):
    """`flightline run` skips the unpartitioned assets when the reference tables did not
    change. The marts must still reach the daily ingest assets through partitioned assets
    only, or Dagster is free to run dbt before the files are loaded."""
    graph = _defs().resolve_asset_graph()

    def partitioned_ancestors(key):
        found, stack = set(), [key]
        while stack:
            for parent in graph.get(stack.pop()).parent_keys:
                if graph.get(parent).partitions_def is not None and parent not in found:
                    found.add(parent)
                    stack.append(parent)
        return found

    ancestors = partitioned_ancestors(AssetKey(["features", "flight_features"]))
    for feed in ("schedules", "actuals", "forecasts"):
        assert AssetKey(["raw", feed]) in ancestors
    assert AssetKey(["raw", "weather"]) in partitioned_ancestors(
        AssetKey(["marts", "fct_weather_hourly"])
    )


def test_every_asset_and_check_explains_itself_in_the_ui(dbt_manifest):
    graph = _defs().resolve_asset_graph()
    undescribed = [
        key.to_user_string()
        for key in graph.get_all_asset_keys()
        if graph.get(key).is_materializable and not graph.get(key).description
    ]
    unexplained = [
        key.name for key in graph.asset_check_keys if not graph.get_check_spec(key).description
    ]
    assert undescribed == [] and unexplained == []
    dest = next(
        key
        for key in graph.asset_check_keys
        if key.name.startswith("relationships_fct_flights_dest")
    )
    assert "known gap of the real data" in graph.get_check_spec(dest).description


def test_dbt_runs_without_an_adapter_in_this_process(dbt_manifest):
    """dagster-dbt would build a dbt adapter in-process for every dbt.cli() (~6 s on the first
    call); the resource turns it off. If dagster-dbt renames the hook, this fails rather than
    the override silently doing nothing."""
    from dagster_dbt import DbtCliResource

    from orchestration.resources import FlightlineDbtCliResource

    resource = _defs().resources["dbt"]
    assert isinstance(resource, FlightlineDbtCliResource)
    assert callable(getattr(DbtCliResource, "_initialize_dbt_core_adapter", None))
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_dbt_version_is_read_without_starting_dbt(dbt_manifest, monkeypatch):
    """dagster-dbt runs `dbt --version` once a run (a dbt start-up, ~3 s) to tell dbt-core
    from Fusion; the resource reads the installed dbt-core's version instead. It must be the
    version the executable reports, and must not start a process."""
    import subprocess

    import dagster_dbt.core.resource
    from dagster_dbt import DbtCliResource

    from orchestration.resources import FlightlineDbtCliResource

    assert "_cli_version" in vars(DbtCliResource)  # the hook dagster-dbt calls still exists
    resource = _defs().resources["dbt"]
    reported = subprocess.check_output([resource.dbt_executable, "--version"], text=True)

    def no_process(*args, **kwargs):
        raise AssertionError(f"started a process: {args}")

    monkeypatch.setattr(dagster_dbt.core.resource, "check_output", no_process)
    monkeypatch.setattr(subprocess, "check_output", no_process)
    fresh = FlightlineDbtCliResource(
        project_dir=resource.project_dir, dbt_executable=resource.dbt_executable
    )
    assert isinstance(fresh, FlightlineDbtCliResource)
    assert f"installed: {fresh._cli_version}" in reported
    assert fresh._cli_version.major == 1


def test_a_step_reads_its_own_runs_upstream_value_not_the_latest_of_any_run(home):
    """Two training runs overlap: each candidate step reads the training set of its run."""
    from dagster import AssetKey, build_input_context, build_output_context

    from orchestration.resources import RunScopedIOManager

    manager = RunScopedIOManager()
    key = AssetKey(["ml", "training_set"])

    def output(run_id):
        return build_output_context(
            run_id=run_id, step_key="ml__training_set", name="result", asset_key=key
        )

    manager.handle_output(output("run-a"), {"cutoff": "2013-10-01"})
    manager.handle_output(output("run-b"), {"cutoff": "2013-11-01"})  # written after

    read_by_a = manager.load_input(build_input_context(upstream_output=output("run-a")))
    assert read_by_a == {"cutoff": "2013-10-01"}
    with pytest.raises(FileNotFoundError, match="run run-c"):
        manager.load_input(build_input_context(upstream_output=output("run-c")))
    # An asset materialized alone (its upstream in no run of its lineage) reads the latest.
    alone = build_input_context(upstream_output=output("run-c"), asset_key=key)
    assert manager.load_input(alone) == {"cutoff": "2013-11-01"}
