from dagster import DagsterInstance, SkipReason


def test_a_pipeline_run_that_succeeded_in_the_ui_publishes_the_snapshot_once():
    from dagster import (
        DagsterEvent,
        DagsterEventType,
        DagsterRun,
        DagsterRunStatus,
        RunRequest,
        build_run_status_sensor_context,
    )

    from orchestration.definitions import defs
    from orchestration.sensors import publish_after_pipeline_runs

    with DagsterInstance.ephemeral() as instance:
        cases = (
            ("inference_pipeline", "daily_loop", True),
            ("__ASSET_JOB", "ui", True),  # "Materialize" in the asset graph
            ("inference_pipeline", "cli", False),  # flightline run publishes at its end
            ("publish_snapshot", "publish_after_pipeline_runs", False),
            ("scoring_gate", "gate", False),  # it changes no table
        )
        for job, trigger, published in cases:
            tags = {"flightline/trigger": trigger}
            if trigger == "cli":
                tags["flightline/pid"] = "4242"
            run = DagsterRun(
                job_name=job, run_id=f"run-{trigger}", status=DagsterRunStatus.SUCCESS, tags=tags
            )
            instance.add_run(run)
            context = build_run_status_sensor_context(
                sensor_name="publish_after_pipeline_runs",
                dagster_instance=instance,
                dagster_run=run,
                dagster_event=DagsterEvent(DagsterEventType.RUN_SUCCESS.value, run.job_name),
                repository_def=defs.get_repository_def(),
            )
            result = publish_after_pipeline_runs(context)
            if published:
                assert isinstance(result, RunRequest) and result.run_key == "publish-run-" + trigger
                assert result.run_config["ops"]["analytics__snapshot"]["config"]["runs"] == [
                    run.run_id
                ]
            else:
                assert isinstance(result, SkipReason)


def test_the_loop_plans_for_landed_files_once_landing_has_been_quiet(home, source, monkeypatch):
    """An evening's files land one after another: a tick between two of them would plan a
    feature run for part of the evening. The loop waits until landing/ is quiet; a file
    dated in the future does not hold it."""
    import os
    import re
    import time
    from datetime import date

    from dagster import RunRequest, build_sensor_context

    from ingest.provider.export import export_feeds
    from orchestration import sensors

    monkeypatch.setattr(sensors, "SETTLE_SECONDS", 60.0)
    export_feeds(home.landing, until=date(2013, 1, 2), source=source)
    with DagsterInstance.ephemeral() as instance:
        waiting = sensors.daily_loop(build_sensor_context(instance=instance))
        assert isinstance(waiting, SkipReason)
        # The export itself takes time: on a busy machine its last file is seconds old.
        landed = re.search(r"files are landing \(the last (\d+) s ago\)", waiting.skip_message)
        assert landed and int(landed.group(1)) < 60, waiting.skip_message
        assert "quiet for 60 s" in waiting.skip_message

        an_hour_ago = time.time() - 3600
        for path in home.landing.rglob("*"):
            os.utime(path, (an_hour_ago, an_hour_ago))
        tomorrow = time.time() + 86_400
        os.utime(next(home.landing.rglob("*.csv")), (tomorrow, tomorrow))
        planned = sensors.daily_loop(build_sensor_context(instance=instance))
        assert isinstance(planned, list) and isinstance(planned[0], RunRequest)
        assert planned[0].job_name == "feature_pipeline"
        # A file landing now is waited for, the future-dated one notwithstanding.
        os.utime(next(home.landing.rglob("*.jsonl")))
        waiting = sensors.daily_loop(build_sensor_context(instance=instance))
        assert isinstance(waiting, SkipReason) and "files are landing" in waiting.skip_message
