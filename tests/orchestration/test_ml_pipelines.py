"""The training and inference pipelines through Dagster, with the gate blocking promotion."""

import json
import subprocess
from datetime import date

import duckdb
import pytest
from dagster import DagsterInstance, materialize

from ingest.publish import snapshot_path
from ingest.settings import DBT_PROJECT_DIR
from ml.features import FEATURES
from orchestration.replay import replay
from orchestration.runner import RunOptions, run_pipeline
from tests.conftest import JANUARY_CUTOFF, JANUARY_VALIDATION_DAYS, copy_home, fetch

pytestmark = pytest.mark.e2e  # the whole pipeline: `make test`, not `make test-fast`


def test_train_promote_score_evaluate_and_a_blocked_promotion(
    january, home, dbt_manifest, monkeypatch, capsys, duckdb_lts_python
):
    # `january`: the feeds through the 20th, run with a cutoff on the 15th. The forecast for
    # the 21st arrived with half its readings missing: the loader quarantined it, and the
    # 21st was scored without a forecast, flagged, with a warning.
    copy_home(january, home.home)
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))
    options = RunOptions(
        cutoff=JANUARY_CUTOFF,
        validation_days=JANUARY_VALIDATION_DAYS,
        scoring_range=("2013-01-15", "2013-01-21"),
    )
    out = (home.home / "run.out").read_text()
    assert "out-of-time ROC AUC" in out and "validation ROC AUC" in out
    assert "NOT SCORED" not in out
    assert "check did not pass (warn): features/flight_features ready_to_score [2013-01-21]" in out
    assert "forecast_temperature_f missing for 100%" in out
    flagged = dict(
        fetch(
            home,
            "select flight_date::varchar, avg(forecast_missing::int) from ml.predictions "
            "group by all",
        )
    )
    assert flagged.pop("2013-01-21") == 1.0 and max(flagged.values()) < 0.2

    ((_, status, decision, artifacts),) = fetch(
        home, "select model_version, status, decision, artifact_path from ml.model_registry"
    )
    assert status == "champion" and decision == "promote"
    # Its card got the out-of-time figures of the days whose outcomes arrived.
    card = (home.home / artifacts / "model_card.md").read_text()  # relative to the home
    assert "Not scored yet" not in card and card.count("## Out-of-time performance") == 1
    assert "2013-01-15 .. 2013-01-20" in card and "| ROC AUC, pooled | 0." in card
    scheduled = fetch(
        home,
        "select count(*) from features.flight_features "
        "where flight_date between '2013-01-15' and '2013-01-21'",
    )[0][0]
    assert fetch(home, "select count(*), count(distinct flight_id) from ml.predictions")[0] == (
        scheduled,
        scheduled,
    )
    days = fetch(home, "select count(*) from ml.model_performance_daily")[0][0]
    assert days == 6  # the 21st has schedules but no outcomes yet
    drift = fetch(
        home,
        "select count(distinct flight_date), count(distinct feature), min(window_rows) "
        "from ml.feature_drift",
    )[0]
    assert drift[0] == 7 and drift[1] == len(FEATURES) + 1 and drift[2] > 700

    # A day the gate holds (for this test, a critical expectation that Sundays fail): the
    # rebuilt 20th is judged alone, not scored, and not retried until its features change.
    from ingest.expectations import between
    from ingest.quality import Suite
    from ml import expectations

    strict = Suite(
        name="features_to_score_no_sundays",
        rows=(*expectations.FEATURES.rows, between("day_of_week", 1, 6)),
        partitions=expectations.FEATURES.partitions,
    )
    with monkeypatch.context() as patch:
        patch.setattr(expectations, "FEATURES", strict)
        rebuild = RunOptions(**{**vars(options), "window": ("2013-01-20", "2013-01-20")})
        assert run_pipeline(home, rebuild) == 0
        out = capsys.readouterr().out
        assert "NOT SCORED 2013-01-20: the scoring gate failed" in out and "day_of_week" in out
        assert "scoring_gate run" in out and "FAILED" not in out
        assert run_pipeline(home, options) == 0
        out = capsys.readouterr().out
        assert "blocked by the scoring gate and unchanged since: 2013-01-20" in out
        assert "inference_pipeline run" not in out

    # Two evenings of production: the 22nd and 23rd are scored the evening before, outcomes
    # evaluated, drift measured. On the first evening the outcomes of the 21st complete a
    # week after the cutoff, far below the champion's validation AUC, so the planner
    # retrains it (cutoff the 22nd), on as many validation days as it had, with the reason
    # recorded as the model's trigger.
    assert replay(home, date(2013, 1, 21), date(2013, 1, 22)) == 0
    scored_days = [
        d for (d,) in fetch(home, "select distinct flight_date::varchar from ml.predictions")
    ]
    assert {"2013-01-21", "2013-01-22", "2013-01-23"} <= set(scored_days)
    ((trigger, validation_start),) = fetch(
        home,
        "select trigger, validation_start::varchar from ml.model_registry "
        "where cutoff_date = '2013-01-22'",
    )
    assert trigger.startswith("performance: ROC AUC") and validation_start == "2013-01-18"
    report = (home.reports / "replay-2013-01-21-2013-01-22.md").read_text()
    assert "| with retraining (what ran) |" in report and "## Retrainings (1)" in report
    assert (home.reports / "replay-2013-01-21-2013-01-22.png").read_bytes()[:4] == b"\x89PNG"
    last_evaluated = fetch(home, "select max(flight_date)::varchar from ml.model_performance_daily")
    assert last_evaluated[0][0] == "2013-01-22"

    # The analysts' questions all answer from the published snapshot.
    snapshot = duckdb.connect(str(snapshot_path(home.warehouse)), read_only=True)
    questions = sorted((DBT_PROJECT_DIR / "analyses").glob("*.sql"))
    assert len(questions) == 10
    for question in questions:
        rows = snapshot.execute(question.read_text()).fetchall()
        assert rows, f"{question.name} returned no rows"
    snapshot.close()
    # ... and in DuckDB 1.4, the client most BI drivers ship (the snapshot is written in its
    # storage format; DuckDB 2.0's own cannot be opened by it).
    script = (
        "import duckdb, json, sys; con = duckdb.connect(sys.argv[1], read_only=True); "
        "print(json.dumps([duckdb.__version__] + [len(con.execute(open(q).read()).fetchall()) "
        "for q in sys.argv[2:]]))"
    )
    answered = subprocess.run(
        [duckdb_lts_python, "-c", script, snapshot_path(home.warehouse), *questions],
        capture_output=True,
        text=True,
        check=True,
    )
    version, *counts = json.loads(answered.stdout)
    assert version.startswith("1.4") and len(counts) == 10 and all(counts), counts
    # ... and README's "For analysts" commands as written, with the CLI it names (duckdb-cli).
    cli = duckdb_lts_python.parent / "duckdb"
    readme = (DBT_PROJECT_DIR.parent / "README.md").read_text()
    lines = [line.split("  #")[0].strip() for line in readme.splitlines()]
    documented = [line for line in lines if line.startswith("duckdb -readonly")]
    assert len(documented) == 2
    for line in documented:
        command, _, stdin = line.partition(" < ")
        words = command.replace(
            "data/warehouse/analytics.duckdb", str(snapshot_path(home.warehouse))
        )
        question = (
            (DBT_PROJECT_DIR.parent / stdin).read_text()
            if stdin
            else "select count(*) as flights from marts.fct_flights;"
        )
        answered = subprocess.run(
            [cli, *words.split()[1:]], input=question, capture_output=True, text=True
        )
        assert answered.returncode == 0 and "│" in answered.stdout, answered.stderr

    # Every table and column analysts see in marts, features and ml is described in dbt.
    described = _described_columns(dbt_manifest)
    undocumented = [
        f"{schema}.{table}.{column}"
        for schema, table, column in fetch(
            home,
            "select table_schema, table_name, column_name from information_schema.columns "
            "where table_schema in ('marts', 'features', 'ml')",
        )
        if column not in described.get((schema, table), set())
    ]
    assert undocumented == []

    # A candidate that cannot clear the margin: the blocking gate stops the promotion.
    from orchestration.assets.training import (
        beats_champion,
        candidate_model,
        champion_model,
        training_run_config,
        training_set,
    )
    from orchestration.resources import MlSettings, WarehouseResource

    champion = "select model_version from ml.model_registry where status = 'champion'"
    champion_before = fetch(home, champion)
    result = materialize(
        [training_set, candidate_model, champion_model, beats_champion],
        instance=DagsterInstance.get(),
        resources={"warehouse": WarehouseResource(), "ml": MlSettings(promotion_margin=1.0)},
        run_config=training_run_config("2013-01-16", "test", validation_days=4),
        raise_on_error=False,
    )
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [False]
    assert "does not beat the champion" in checks[0].description
    materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
    assert materialized == {"ml/training_set", "ml/candidate_model"}
    assert fetch(home, champion) == champion_before
    rows = fetch(home, "select model_version, status, decision from ml.model_registry order by 1")
    assert any(status == "candidate" and decision == "reject" for _, status, decision in rows)


def _described_columns(manifest_path):
    import json

    manifest = json.loads(manifest_path.read_text())
    described = {}
    for node in [*manifest["nodes"].values(), *manifest["sources"].values()]:
        if node["resource_type"] not in ("model", "source") or not node.get("description"):
            continue
        schema = node["schema"]
        name = node.get("alias") or node.get("identifier") or node["name"]
        described[(schema, name)] = {
            column for column, spec in node["columns"].items() if spec.get("description")
        }
    return described
