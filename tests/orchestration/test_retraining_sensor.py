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
