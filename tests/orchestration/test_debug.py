"""`flightline debug`: a failed step run again in-process on the inputs it recorded."""

import json
from datetime import date

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from ingest.settings import REPO_ROOT
from ml.promotion import promote
from ml.scoring import score_days
from ml.training import train_and_register
from ml.training_config import TrainingConfig
from orchestration.assets.inference import predictions
from orchestration.cli import main
from orchestration.resources import WarehouseResource
from tests.conftest import copy_of

pytestmark = pytest.mark.e2e  # trains on six weeks of real feeds

CONFIG = TrainingConfig(cutoff=date(2013, 2, 7), validation_days=7)
BAD_DAY = "2013-02-09"


def _score(instance: DagsterInstance, day: str):
    return materialize(
        [predictions],
        partition_key=day,
        instance=instance,
        resources={"warehouse": WarehouseResource()},
        raise_on_error=False,
    )


def test_a_failed_scoring_step_fails_again_in_process_on_its_recorded_rows(
    six_weeks, tmp_path, monkeypatch, capsys
):
    settings = copy_of(six_weeks, tmp_path)
    monkeypatch.setenv("FLIGHTLINE_HOME", str(settings.home))
    instance = DagsterInstance.ephemeral()
    con = duckdb.connect(str(settings.warehouse))
    model = train_and_register(con, settings.models, REPO_ROOT, CONFIG, trigger="test").model
    promote(con, model.model_version)
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
