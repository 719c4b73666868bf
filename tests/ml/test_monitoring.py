from dataclasses import replace
from datetime import date

from ml.monitoring import Evidence, RetrainingPolicy, decide_retraining

POLICY = RetrainingPolicy()
HEALTHY = Evidence(
    as_of=date(2013, 10, 14),
    champion_version="20131001-abc",
    champion_cutoff=date(2013, 10, 1),
    champion_validation_auc=0.72,
    recent_auc=0.71,
    recent_flights=6000,
    recent_window=(date(2013, 10, 8), date(2013, 10, 14)),
    score_psi=0.05,
    drift_day=date(2013, 10, 15),
)


def test_a_healthy_young_champion_is_kept():
    decision = decide_retraining(HEALTHY, POLICY)
    assert not decision.retrain
    assert decision.trigger == "none"
    assert "14 days old" in decision.reason


def test_a_drop_in_recent_auc_triggers_retraining_on_everything_known():
    decision = decide_retraining(replace(HEALTHY, recent_auc=0.65), POLICY)
    assert decision.retrain and decision.trigger == "performance"
    assert decision.cutoff == date(2013, 10, 15)
    assert "0.6500" in decision.reason and "0.6700" in decision.reason


def test_too_few_evaluated_flights_are_no_evidence():
    decision = decide_retraining(replace(HEALTHY, recent_auc=0.5, recent_flights=500), POLICY)
    assert not decision.retrain


def test_a_drift_alert_triggers_retraining_and_the_score_alone_does_not():
    evidence = replace(HEALTHY, drift_alerts=("carrier (PSI 0.61 against training, 0.58 ...)",))
    decision = decide_retraining(evidence, POLICY)
    assert decision.retrain and decision.trigger == "drift"
    assert "carrier (PSI 0.61" in decision.reason
    # December's storms: the score shifts with the weather, the model is as good as ever.
    assert not decide_retraining(replace(HEALTHY, score_psi=0.9), POLICY).retrain


def test_a_fresh_champion_is_not_judged_before_it_has_evidence():
    fresh = replace(HEALTHY, as_of=date(2013, 10, 3), recent_auc=0.5, drift_alerts=("carrier",))
    assert not decide_retraining(fresh, POLICY).retrain


def test_an_old_champion_is_retrained_on_schedule():
    old = replace(HEALTHY, as_of=date(2013, 11, 1))
    decision = decide_retraining(old, POLICY)
    assert decision.retrain and decision.trigger == "schedule"
    assert decision.cutoff == date(2013, 11, 2)


def test_performance_wins_over_schedule_when_both_hold():
    both = replace(HEALTHY, as_of=date(2013, 11, 5), recent_auc=0.6)
    assert decide_retraining(both, POLICY).trigger == "performance"


def test_a_champion_that_covers_the_day_is_never_retrained():
    covered = replace(HEALTHY, as_of=date(2013, 9, 30), recent_auc=0.4)
    assert not decide_retraining(covered, POLICY).retrain


def test_a_retraining_validates_on_as_many_days_as_the_champion_did():
    evidence = replace(HEALTHY, recent_auc=0.6, champion_validation_days=4)
    decision = decide_retraining(evidence, POLICY)
    assert decision.retrain and decision.validation_days == 4
    assert decision.as_metadata()["validation_days"] == 4


def test_a_rejected_retraining_is_not_repeated_every_evening():
    # The gate kept the champion after a retraining 3 days ago; the champion is still weak.
    evidence = replace(HEALTHY, recent_auc=0.6, last_trained_cutoff=date(2013, 10, 12))
    assert not decide_retraining(evidence, POLICY).retrain
    a_week_later = replace(evidence, as_of=date(2013, 10, 18))
    assert decide_retraining(a_week_later, POLICY).trigger == "performance"


def test_the_monthly_retraining_counts_from_the_last_training_even_if_rejected():
    old = replace(HEALTHY, as_of=date(2013, 11, 5), last_trained_cutoff=date(2013, 11, 2))
    assert not decide_retraining(old, POLICY).retrain
