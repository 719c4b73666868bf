"""The planner on Dagster's records alone (an ephemeral instance, events reported without
runs): what the daily_loop sensor and `flightline run` launch next, and what they leave."""

from datetime import date, timedelta

import pytest
from dagster import (
    AssetCheckEvaluation,
    AssetCheckKey,
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
)

from ingest.catalog import DAILY_FEEDS, REFERENCE_FEEDS
from orchestration.keys import (
    CHAMPION,
    DECISION,
    FLIGHT_FEATURES,
    GATE_CHECK,
    MODEL_CARD,
    OUTCOMES,
    PERFORMANCE,
    PREDICTIONS,
    TRAINING_SET,
)
from orchestration.planner import Landed, Policy, next_runs


@pytest.fixture
def instance(dbt_manifest):
    with DagsterInstance.ephemeral() as instance:
        yield instance


def _days(first: str, count: int) -> list[str]:
    start = date.fromisoformat(first)
    return [(start + timedelta(days=n)).isoformat() for n in range(count)]


def _materialize(instance, key: AssetKey, days=(None,), **metadata) -> None:
    for day in days:
        instance.report_runless_asset_event(
            AssetMaterialization(asset_key=key, partition=day, metadata=metadata)
        )


def _built(instance, days) -> None:
    """A feature run over `days`: raw partitions, then the reference and daily models."""
    from orchestration.assets.dbt import dbt_reference_models

    for feed in REFERENCE_FEEDS:
        _materialize(instance, AssetKey(["raw", feed.name]))
    for feed in DAILY_FEEDS:
        _materialize(instance, AssetKey(["raw", feed.name]), days)
    for key in dbt_reference_models.keys:
        _materialize(instance, key)
    _materialize(instance, FLIGHT_FEATURES, days)


def _gate(instance, day: str, passed: bool, why: str = "") -> None:
    instance.report_runless_asset_event(
        AssetCheckEvaluation(
            asset_key=FLIGHT_FEATURES,
            check_name="ready_to_score",
            partition=day,
            passed=passed,
            severity=AssetCheckSeverity.ERROR,
            description=why,
        )
    )


def _scored(instance, days) -> None:
    """An inference run: predictions, then the evaluation of the outcomes known."""
    _materialize(instance, PREDICTIONS, days)
    _materialize(instance, OUTCOMES)


def _champion(instance, version="m1", cutoff="2013-01-15") -> None:
    _materialize(instance, TRAINING_SET)
    _materialize(instance, CHAMPION, champion_version=version, cutoff=cutoff)


def test_landed_files_and_raw_newer_than_features_plan_one_feature_run(instance):
    plan = next_runs(instance, Landed(frozenset({"2013-01-03", "2013-01-04"})))
    ((request),) = plan.requests
    assert request.job == "feature_pipeline" and request.window == ("2013-01-03", "2013-01-04")
    # Nothing built yet: the reference tables are part of the run.
    assert request.selection is None

    _built(instance, _days("2013-01-01", 4))
    assert next_runs(instance).stage != "features"
    # A run loaded the 5th and failed before dbt: the 5th is rebuilt, without the reference.
    _materialize(instance, AssetKey(["raw", "schedules"]), ["2013-01-05"])
    ((request),) = next_runs(instance).requests
    assert request.window == ("2013-01-05", "2013-01-05")
    assert request.selection and AssetKey(["marts", "dim_planes"]) not in request.selection
    # Only the job's own checks of those assets: never the scoring gate in a feature run.
    assert request.checks and GATE_CHECK not in request.checks
    assert not [key for key in request.checks if key.name == "freshness"]  # its own schedule
    assert AssetCheckKey(FLIGHT_FEATURES, "ready_to_score") == GATE_CHECK

    # A reference file changed: every loaded day is rebuilt with it.
    ((request),) = next_runs(instance, Landed(reference=True)).requests
    assert request.window == ("2013-01-01", "2013-01-05") and request.selection is None


def test_the_first_model_trains_once_the_validation_window_has_features(instance):
    policy = Policy(cutoff=date(2013, 1, 15), validation_days=4)
    _built(instance, _days("2013-01-01", 13))
    plan = next_runs(instance, policy=policy)
    assert plan.requests == [] and "1 of those days have no features yet" in plan.notes[-2]
    _built(instance, ["2013-01-14"])
    ((request),) = next_runs(instance, policy=policy).requests
    assert request.job == "training_pipeline"
    config = request.run_config["ops"]["ml__training_set"]["config"]
    assert config == {"cutoff": "2013-01-15", "validation_days": 4, "trigger": "first model"}
    assert next_runs(instance, policy=Policy(train=False)).requests == []


def test_days_are_judged_by_the_gate_then_scored_and_a_failed_day_waits_alone(instance):
    _built(instance, _days("2013-01-01", 20))
    _champion(instance)
    plan = next_runs(instance)
    # Days from the champion's cutoff: the gate judges them first, in one run.
    ((gate),) = plan.requests
    assert (gate.job, gate.window) == ("scoring_gate", ("2013-01-15", "2013-01-20"))

    for day in _days("2013-01-15", 6):
        _gate(instance, day, day != "2013-01-17", "forecast missing")
    plan = next_runs(instance)
    assert [(r.job, r.window) for r in plan.requests] == [
        ("inference_pipeline", ("2013-01-15", "2013-01-16")),
        ("inference_pipeline", ("2013-01-18", "2013-01-20")),
    ]
    assert plan.held == {"2013-01-17": "forecast missing"}

    _scored(instance, ["2013-01-15", "2013-01-16", *_days("2013-01-18", 3)])
    plan = next_runs(instance)
    assert plan.requests == [] and plan.held == {"2013-01-17": "forecast missing"}

    # A person's range bounds the days.
    scoped = next_runs(instance, policy=Policy(scoring_range=("2013-01-19", "2013-01-19")))
    assert scoped.requests == [] and scoped.held == {}

    # New features for the 17th (its forecast came): judged again.
    _built(instance, ["2013-01-17"])
    ((gate),) = next_runs(instance).requests
    assert (gate.job, gate.window) == ("scoring_gate", ("2013-01-17", "2013-01-17"))


def test_a_decision_to_retrain_waits_for_a_day_to_score_and_is_acted_on_once(instance):
    _built(instance, _days("2013-01-01", 22))
    _champion(instance)
    for day in _days("2013-01-15", 8):
        _gate(instance, day, True)
    _scored(instance, _days("2013-01-15", 8))
    _materialize(instance, DECISION, retrain=False, cutoff="2013-01-23", reason="fine")
    plan = next_runs(instance)
    assert plan.requests == [] and any("m1 stays: fine" in note for note in plan.notes)

    reason = "drift: score PSI 0.41 over the week to 2013-01-22 exceeds 0.25"
    _materialize(
        instance, DECISION, retrain=True, cutoff="2013-01-23", reason=reason, validation_days=4
    )
    # No day from the cutoff on to score yet (a backfill's last evening): it waits.
    plan = next_runs(instance)
    assert plan.requests == [] and any("that waits until" in note for note in plan.notes)

    _built(instance, ["2013-01-23"])
    _gate(instance, "2013-01-23", True)
    ((request),) = next_runs(instance).requests
    config = request.run_config["ops"]["ml__training_set"]["config"]
    assert config == {"cutoff": "2013-01-23", "validation_days": 4, "trigger": reason}

    # Handled once a training ran after the decision (whatever its gate said): on to scoring.
    _materialize(instance, TRAINING_SET)
    ((request),) = next_runs(instance).requests
    assert (request.job, request.window) == ("inference_pipeline", ("2013-01-23", "2013-01-23"))
    _scored(instance, ["2013-01-23"])
    assert next_runs(instance).requests == []

    # Outcomes landed after the last evaluation and nothing to score (the replay's last
    # evening scores only a day past the feeds): evaluate them.
    _built(instance, ["2013-01-23"])
    last_evening = Policy(scoring_range=("2013-01-24", "2013-01-24"))
    ((request),) = next_runs(instance, policy=last_evening).requests
    # Evaluation only: the inference pipeline's evaluation and monitoring groups less drift
    # (the dbt models, the model card's out-of-time section, the decision), with their checks.
    assert request.selection == [MODEL_CARD, PERFORMANCE, OUTCOMES, DECISION]
    assert {(check.asset_key, check.name) for check in request.checks} == {
        (PERFORMANCE, "unique_combination_model_performance_daily_flight_date__model_version"),
        (
            OUTCOMES,
            "accepted_values_prediction_outcomes_outcome__true_positive__false_positive__"
            "false_negative__true_negative",
        ),
        (OUTCOMES, "not_null_prediction_outcomes_flight_id"),
        (OUTCOMES, "unique_prediction_outcomes_flight_id"),
    }
    assert request.window == ("2013-01-23", "2013-01-23")
