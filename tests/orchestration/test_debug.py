"""`flightline debug`: a failed step run again in-process on the inputs it recorded."""

import json
from dataclasses import dataclass

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from ingest.settings import Settings
from ml import registry
from ml.registry import RegisteredModel
from ml.scoring import score_days
from orchestration.assets.inference import predictions
from orchestration.assets.monitoring import feature_drift, retraining_decision
from orchestration.cli import main
from orchestration.resources import MlSettings, WarehouseResource
from tests.conftest import champion_run, copy_of

pytestmark = pytest.mark.e2e  # trains on six weeks of real feeds

BAD_DAY = "2013-02-09"


def _score(instance: DagsterInstance, day: str):
    return materialize(
        [predictions],
        partition_key=day,
        instance=instance,
        resources={"warehouse": WarehouseResource()},
        raise_on_error=False,
    )


RESOURCES = {"warehouse": WarehouseResource(), "ml": MlSettings()}


@dataclass(frozen=True)
class Trained:
    settings: Settings
    run_id: str
    model: RegisteredModel


@pytest.fixture(scope="module")
def trained(six_weeks_champion) -> Trained:
    run_id, version = champion_run(six_weeks_champion)
    con = duckdb.connect(str(six_weeks_champion.warehouse), read_only=True)
    model = registry.champion(con, read_only=True)
    assert model.model_version == version
    con.close()
    return Trained(six_weeks_champion, run_id, model)


def test_a_failed_scoring_step_fails_again_in_process_on_its_recorded_rows(
    trained, tmp_path, monkeypatch, capsys
):
    settings = copy_of(trained.settings, tmp_path)
    monkeypatch.setenv("FLIGHTLINE_HOME", str(settings.home))
    instance = DagsterInstance.ephemeral()
    model = trained.model
    con = duckdb.connect(str(settings.warehouse))
    # A broken model change writes distance_miles as text, and one flight of the day 'n/a'.
    con.execute("alter table features.flight_features alter distance_miles type varchar")
    con.execute(
        "update features.flight_features set distance_miles = 'n/a' where flight_id = "
        "(select max(flight_id) from features.flight_features where flight_date = ?)",
        [BAD_DAY],
    )
    con.close()

    failed = _score(instance, BAD_DAY)
    assert not failed.success
    (failure,) = failed.get_step_failure_events()
    error = failure.event_specific_data.error.cause.message.strip()  # Dagster wraps it
    assert error.startswith("ValueError: Unable to parse string 'n/a' at position ")
    recorded = json.loads(
        (settings.recorded / failed.run_id / "predictions" / "inputs.json").read_text()
    )
    assert recorded["outcome"] == {"status": "failed", "error": error}
    assert recorded["references"]["model"]["model_version"] == model.model_version

    # The warehouse moves on: the model fixed, the day and the next four scored.
    con = duckdb.connect(str(settings.warehouse))
    con.execute(
        "update features.flight_features set distance_miles = '0' where distance_miles = 'n/a'"
    )
    con.execute("alter table features.flight_features alter distance_miles type double")
    days = [f"2013-02-{day:02d}" for day in range(9, 14)]
    assert sum(day.rows for day in score_days(con, model, days)) > 3000
    con.close()
    later = _score(instance, "2013-02-14")
    assert later.success

    with pytest.raises(ValueError) as raised:  # in this process: a debugger would stop here
        main(["debug", failed.run_id])
    assert f"{type(raised.value).__name__}: {raised.value}" == error
    assert f"predictions of run {failed.run_id} (it ended: {error})" in capsys.readouterr().out

    # A step that succeeded runs clean on its own recorded inputs, the step named.
    assert main(["debug", later.run_id, "predictions"]) == 0
    (materialized,) = later.get_asset_materialization_events()
    metadata = materialized.materialization.metadata
    rows = metadata["dagster/row_count"].value
    assert 0 < metadata["recorded_inputs_mb"].value < 1
    assert f"scored {rows} flights with {model.model_version}" in capsys.readouterr().out


def _metadata(result) -> dict:
    (materialized,) = result.get_asset_materialization_events()
    return {name: value.value for name, value in materialized.materialization.metadata.items()}


def test_training_drift_and_the_decision_replay_to_what_they_gave(
    trained, tmp_path, monkeypatch, capsys
):
    settings = copy_of(trained.settings, tmp_path)
    monkeypatch.setenv("FLIGHTLINE_HOME", str(settings.home))
    instance = DagsterInstance.ephemeral()
    scored = materialize(
        [predictions, feature_drift],
        partition_key=BAD_DAY,
        instance=instance,
        resources=RESOURCES,
    )
    drift_rows = [
        event.materialization.metadata["dagster/row_count"].value
        for event in scored.get_asset_materialization_events()
        if event.materialization.asset_key.path[-1] == "feature_drift"
    ]
    # The outcomes of the scored flights (dbt's ml.prediction_outcomes, made here by hand).
    con = duckdb.connect(str(settings.warehouse))
    con.execute(
        "create or replace table ml.prediction_outcomes as select model_version, flight_date, "
        "score, hash(flight_id) % 4 = 0 as is_delayed from ml.predictions"
    )
    con.close()
    decided = materialize([retraining_decision], instance=instance, resources=RESOURCES)
    reason = _metadata(decided)["reason"]

    # The warehouse moves on: what those steps read is gone from it.
    con = duckdb.connect(str(settings.warehouse))
    con.execute("delete from ml.predictions")
    con.execute("delete from ml.feature_drift")
    con.execute("drop table ml.prediction_outcomes")
    con.execute("delete from features.flight_features where flight_date >= '2013-01-20'")
    con.close()
    capsys.readouterr()

    assert main(["debug", scored.run_id, "drift"]) == 0
    assert f"measured {drift_rows[0]} drift rows" in capsys.readouterr().out
    assert main(["debug", decided.run_id, "retraining_decision"]) == 0
    assert reason in capsys.readouterr().out

    # The training, in the home that trained it: the same version (same inputs, same code),
    # its artifacts written under the scratch folder, not models/.
    monkeypatch.setenv("FLIGHTLINE_HOME", str(trained.settings.home))
    models = sorted(path.name for path in trained.settings.models.iterdir())
    assert main(["debug", trained.run_id, "candidate_model"]) == 0
    assert f"trained {trained.model.model_version} " in capsys.readouterr().out
    assert sorted(path.name for path in trained.settings.models.iterdir()) == models


def test_debug_says_what_is_recorded_when_it_cannot(home, capsys):
    assert main(["debug", "no-such-run"]) == 2
    assert "no recorded inputs of run no-such-run" in capsys.readouterr().err
    (home.recorded / "r1" / "predictions").mkdir(parents=True)
    (home.recorded / "r1" / "predictions" / "inputs.json").write_text(
        json.dumps({"outcome": {"status": "succeeded"}})
    )
    assert main(["debug", "r1"]) == 2
    assert (
        "has 0 failed recorded step(s) of ['predictions']: name the step" in capsys.readouterr().err
    )
    assert main(["debug", "r1", "training"]) == 2
    assert "recorded ['predictions'], not 'training'" in capsys.readouterr().err
