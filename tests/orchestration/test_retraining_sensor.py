from dagster import AssetMaterialization, DagsterInstance, SkipReason, build_sensor_context

from orchestration.assets.monitoring import DECISION
from orchestration.sensors import retraining_requests, retraining_sensor


def _decide(instance, retrain: bool, cutoff: str, reason: str) -> None:
    instance.report_runless_asset_event(
        AssetMaterialization(
            asset_key=DECISION,
            metadata={"retrain": retrain, "cutoff": cutoff, "reason": reason, "trigger": "x"},
        )
    )


def test_a_decision_to_retrain_requests_training_with_its_reason_once():
    with DagsterInstance.ephemeral() as instance:
        _decide(instance, False, "2013-10-20", "champion is fine")
        assert retraining_requests(instance, None)[0] == []

        reason = "drift: score PSI 0.412 over the week to 2013-10-22 exceeds 0.25"
        _decide(instance, True, "2013-10-22", reason)
        requests, cursor = retraining_requests(instance, None)
        (request,) = requests
        config = request.run_config["ops"]["ml__training_set"]["config"]
        assert config == {"cutoff": "2013-10-22", "validation_days": 28, "trigger": reason}
        assert request.run_key == "retrain-2013-10-22"
        # Read once: the next tick starts after it.
        assert retraining_requests(instance, cursor) == ([], cursor)


def test_the_sensor_skips_when_no_decision_asks_to_retrain(dbt_manifest):
    from orchestration.definitions import defs

    with DagsterInstance.ephemeral() as instance:
        _decide(instance, False, "2013-10-20", "champion is fine")
        context = build_sensor_context(instance=instance, definitions=defs)
        result = retraining_sensor(context)
        assert isinstance(result, SkipReason)
        _decide(instance, True, "2013-11-01", "schedule: 31 days old")
        context = build_sensor_context(instance=instance, cursor=context.cursor, definitions=defs)
        (request,) = retraining_sensor(context)
        assert request.tags["flightline/trigger"] == "retraining_sensor"


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
            ("inference_pipeline", "landing_files_sensor", True),
            ("__ASSET_JOB", "ui", True),  # "Materialize" in the asset graph
            ("inference_pipeline", "cli", False),  # flightline run publishes at its end
            ("publish_snapshot", "publish_after_pipeline_runs", False),
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
