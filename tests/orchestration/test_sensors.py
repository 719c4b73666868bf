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
