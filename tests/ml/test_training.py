from dataclasses import replace
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from ingest.settings import REPO_ROOT
from ml import registry
from ml.features import FEATURE_RELATION, FEATURES, read_features
from ml.promotion import evaluate_gate, promote
from ml.scoring import ScoringError, score_days
from ml.training import train_and_register, training_set
from ml.training_config import TrainingConfig
from tests.conftest import copy_of, fetch

pytestmark = pytest.mark.e2e  # the whole pipeline: `make test`, not `make test-fast`

CONFIG = TrainingConfig(cutoff=date(2013, 2, 7), validation_days=7)


@pytest.fixture
def warehouse(six_weeks, tmp_path):
    settings = copy_of(six_weeks, tmp_path)
    con = duckdb.connect(str(settings.warehouse))
    yield settings, con
    con.close()


@pytest.fixture(scope="module")
def trained(six_weeks, tmp_path_factory):
    """six_weeks with one model trained, registered and promoted (trained once per module)."""
    settings = copy_of(six_weeks, tmp_path_factory.mktemp("trained"))
    con = duckdb.connect(str(settings.warehouse))
    run = train_and_register(con, settings.models, REPO_ROOT, CONFIG, trigger="test")
    promote(con, run.model.model_version)
    con.close()
    return settings, run


@pytest.fixture(scope="module")
def trained_again(trained, tmp_path_factory):
    """The same training run again, on a copy of the trained warehouse, with every SQL
    statement it ran recorded: (copy, the first run, this run, its statements). Two tests
    read it (the registered version, the feature relation): one training, not two."""
    settings, first = trained
    copy = copy_of(settings, tmp_path_factory.mktemp("trained_again"))
    con = duckdb.connect(str(copy.warehouse))
    recording = RecordingConnection(con)
    again = train_and_register(recording, copy.models, REPO_ROOT, CONFIG)
    con.close()
    return copy, first, again, recording.statements


@pytest.fixture
def with_champion(trained, tmp_path):
    settings, run = trained
    copy = copy_of(settings, tmp_path)
    con = duckdb.connect(str(copy.warehouse))
    yield copy, con, run
    con.close()


def test_training_is_deterministic(six_weeks, trained_again):
    """The same rows and code, trained twice (the module's two trainings, on two copies of
    the same warehouse), give the same comparison, model, scores and fingerprint."""
    _copy, first_run, second_run, _ = trained_again
    first, second = first_run.result, second_run.result

    assert first.chosen == second.chosen
    assert first.metrics == second.metrics
    pd.testing.assert_frame_equal(first.comparison, second.comparison)
    np.testing.assert_array_equal(first.validation_scores, second.validation_scores)
    con = duckdb.connect(str(six_weeks.warehouse), read_only=True)
    later = read_features(con, "2013-02-07", labelled_only=True)
    con.close()
    np.testing.assert_array_equal(
        first.model.predict_proba(later[FEATURES]), second.model.predict_proba(later[FEATURES])
    )
    assert first.data_fingerprint == second.data_fingerprint


def test_validation_is_the_weeks_before_the_cutoff_never_a_random_split(trained):
    result = trained[1].result

    assert result.windows["validation_start"] == "2013-01-31"
    assert result.windows["validation_end"] == "2013-02-06"
    assert result.windows["training_end"] == "2013-01-30"
    assert set(result.comparison.family) == {"baseline", "logistic_regression", "gradient_boosting"}
    assert result.metrics["roc_auc"] == result.comparison.roc_auc.max()
    assert 0.05 <= result.threshold <= 0.95


def test_the_first_model_is_promoted_and_a_worse_one_is_not(six_weeks, trained, tmp_path):
    settings, first = trained
    fresh = copy_of(six_weeks, tmp_path / "fresh")
    con = duckdb.connect(str(fresh.warehouse))
    registry.register(
        con,
        {**_record_of(first), "artifact_path": first.model.artifact_path},
        first.model.load(),
        {},
    )
    decision = evaluate_gate(con, first.model.model_version, margin=0.002)
    assert decision.promote and "no champion yet" in decision.reason
    promote(con, first.model.model_version)

    # A candidate that is the naive baseline, registered on the same window, must lose.
    baseline = first.result.comparison.set_index("candidate").loc["route_baseline"]
    from ml.candidates import RouteRateBaseline

    train = read_features(con, end="2013-01-30", labelled_only=True)
    weak = RouteRateBaseline().fit(train[FEATURES], train.is_delayed.astype(int))
    record = {
        "model_version": "worse-1",
        "trigger": "test",
        "cutoff_date": "2013-02-07",
        **first.result.windows,
        "training_rows": len(train),
        "validation_rows": first.result.validation_rows,
        "code_version": "test",
        "data_fingerprint": "x",
        "algorithm": "route_baseline",
        "params": {},
        "metrics": {"roc_auc": float(baseline.roc_auc)},
        "threshold": 0.3,
        "artifact_path": str(settings.models / "worse-1"),
    }
    registry.register(con, record, weak, {})
    decision = evaluate_gate(con, "worse-1", margin=0.002)

    assert not decision.promote
    assert decision.champion_version == first.model.model_version
    assert decision.champion_auc == pytest.approx(first.result.metrics["roc_auc"])
    assert "does not beat the champion" in decision.reason
    con.close()


def _record_of(run):
    result = run.result
    return {
        "model_version": run.model.model_version,
        "trigger": "test",
        "cutoff_date": str(result.config.cutoff),
        **result.windows,
        "training_rows": result.training_rows,
        "validation_rows": result.validation_rows,
        "code_version": "test",
        "data_fingerprint": result.data_fingerprint,
        "algorithm": result.chosen,
        "params": result.params,
        "metrics": result.metrics,
        "threshold": result.threshold,
    }


def test_a_long_history_trains_on_a_sample_drawn_in_sql(warehouse):
    _settings, con = warehouse
    everything = training_set(con, CONFIG)
    capped = replace(CONFIG, max_training_rows=len(everything) // 4)

    sample = training_set(con, capped)

    assert 0.2 * len(everything) < len(sample) < 0.3 * len(everything)
    assert set(sample.flight_id) < set(everything.flight_id)
    assert sample.flight_date.nunique() == everything.flight_date.nunique()
    assert abs(sample.is_delayed.mean() - everything.is_delayed.mean()) < 0.03
    pd.testing.assert_frame_equal(sample, training_set(con, capped))  # the same flights


def test_same_data_and_code_give_the_same_registered_version(trained_again):
    settings, first, again, _ = trained_again
    assert again.reused and again.model.model_version == first.model.model_version
    assert fetch(settings, "select count(*) from ml.model_registry")[0][0] == 1
    card = (Path(first.model.artifact_path) / "model_card.md").read_text()
    assert "validation window: 2013-01-31 .. 2013-02-06" in card
    # The importance's unit, the calibration in words, the plots with their window, and a
    # place for the out-of-time figures (the inference pipeline fills it).
    assert "the drop in validation ROC AUC when the feature is shuffled" in card
    assert "The scores " in card and "of the mean score" in card
    assert "![ROC curve on the validation window 2013-01-31 .. 2013-02-06](roc.png)" in card
    assert card.rstrip().endswith("once outcomes of the days it scored have arrived.")


def test_training_writes_the_drift_reference_monitoring_would_build(with_champion, tmp_path):
    """The drift reference is written with the model, from the training run's own frames; it
    is what monitoring builds from the warehouse for a model registered without one (the
    training rows' features and the validation scores; all rows here, no sample)."""
    import json
    import shutil

    from ml.drift import REFERENCE_FILE, reference_for

    _settings, con, run = with_champion
    written = json.loads((Path(run.model.artifact_path) / REFERENCE_FILE).read_text())
    without = tmp_path / "artifact"
    shutil.copytree(run.model.artifact_path, without)
    (without / REFERENCE_FILE).unlink()
    rebuilt = reference_for(con, replace(run.model, artifact_path=str(without)))
    assert rebuilt == written
    assert {"score", "carrier", "distance_miles"} <= set(written)
    assert sum(written["score"]["expected"]) == run.result.validation_rows


def test_scoring_a_day_twice_gives_the_same_rows_once(with_champion):
    _settings, con, _run = with_champion
    champion = registry.require_champion(con)

    score_days(con, champion, ["2013-02-10", "2013-02-11"])
    first = con.execute("select * exclude (scored_at) from ml.predictions order by all").df()
    score_days(con, champion, ["2013-02-10"])
    second = con.execute("select * exclude (scored_at) from ml.predictions order by all").df()

    pd.testing.assert_frame_equal(first, second)
    flights = con.execute(
        "select count(*) from features.flight_features "
        "where flight_date between '2013-02-10' and '2013-02-11'"
    ).fetchone()[0]
    assert len(second) == second.flight_id.nunique() == flights


def test_scoring_in_chunks_gives_the_rows_of_one_pass(with_champion):
    _settings, con, _run = with_champion
    champion = registry.require_champion(con)
    days = ["2013-02-10", "2013-02-11", "2013-02-12"]
    query = "select * exclude (scored_at) from ml.predictions order by all"

    whole = score_days(con, champion, days)
    one_pass = con.execute(query).df()
    # A limit below one day's rows: every day is a chunk of its own.
    chunked = score_days(con, champion, days, chunk_rows=10)

    pd.testing.assert_frame_equal(con.execute(query).df(), one_pass)
    assert [(d.day, d.rows) for d in chunked] == [(d.day, d.rows) for d in whole]
    assert len(one_pass) == sum(d.rows for d in whole)


def test_scores_predicted_in_batches_equal_one_call(with_champion, monkeypatch):
    """predict_scores calls predict_proba on batches of rows (faster past ~200k rows): the
    scores are those of one call, in the rows' order, however the rows are cut (to the
    last bits of a double: the linear model's BLAS sums a batch in another order)."""
    import ml.scoring

    _settings, con, _run = with_champion
    estimator = registry.require_champion(con).load()
    features = read_features(con, "2013-02-10", "2013-02-12")
    one_call = estimator.predict_proba(features[FEATURES])[:, 1]
    for batch in (7, len(features) - 1, len(features), len(features) + 1):
        monkeypatch.setattr(ml.scoring, "PREDICT_BATCH_ROWS", batch)
        batched = ml.scoring.predict_scores(estimator, features)
        np.testing.assert_allclose(batched, one_call, rtol=1e-12, atol=0)
    assert ml.scoring.predict_scores(estimator, features.iloc[:0]).shape == (0,)


def test_a_day_without_features_fails_and_writes_nothing(with_champion):
    _settings, con, _run = with_champion
    champion = registry.require_champion(con)
    score_days(con, champion, ["2013-02-12"])

    with pytest.raises(ScoringError, match=r"no rows in features\.flight_features for 2013-03-01"):
        score_days(con, champion, ["2013-02-12", "2013-03-01"])
    assert con.execute("select count(distinct flight_date) from ml.predictions").fetchone()[0] == 1


def test_scoring_without_a_champion_says_what_to_do(warehouse):
    _, con = warehouse
    with pytest.raises(registry.RegistryError, match="no champion model"):
        registry.require_champion(con)


class RecordingConnection:
    """Wraps a DuckDB connection and records every SQL statement it runs."""

    def __init__(self, con):
        self.con, self.statements = con, []

    def execute(self, sql, *args, **kwargs):
        self.statements.append(sql)
        return self.con.execute(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.con, name)


def test_training_and_scoring_read_the_same_feature_relation(trained_again, with_champion):
    *_, training_statements = trained_again
    _, con, _ = with_champion
    scoring = RecordingConnection(con)
    score_days(scoring, registry.require_champion(con), ["2013-02-12"])

    def feature_reads(statements):
        return {s.split(" from ")[1].split()[0] for s in statements if " from features." in s}

    assert (
        feature_reads(training_statements)
        == feature_reads(scoring.statements)
        == {FEATURE_RELATION}
    )
