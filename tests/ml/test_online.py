"""Online inference (ml/online.py, ml/service.py) against the batch pipeline's own scores."""

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from ingest.publish import publish_snapshot, snapshot_path
from ingest.settings import REPO_ROOT
from ml import registry
from ml.online import MAX_BATCH, OnlineScorer
from ml.promotion import promote
from ml.scoring import score_days
from ml.service import create_app
from ml.training import train_and_register
from ml.training_config import TrainingConfig
from tests.conftest import copy_of

pytestmark = pytest.mark.e2e  # trains on six weeks of real feeds

# The next evening's champion: a sample of its training set is enough for a new model
# version (a fifth of the rows: ml.training.training_set draws it in SQL).
SECOND = TrainingConfig(cutoff=date(2013, 2, 11), validation_days=7, max_training_rows=8000)
# six_weeks has actuals through 02-13 and the schedules of 02-14: the 14th is "tomorrow".
DAYS = [date(2013, 2, 7) + timedelta(days=n) for n in range(8)]


def _train_score_publish(settings, config: TrainingConfig | None) -> pd.DataFrame:
    """What the pipeline does of an evening: a champion (trained on `config`; None: the one
    there is) scores the days, the run publishes the snapshot. Returns ml.predictions as the
    batch pipeline wrote it."""
    con = duckdb.connect(str(settings.warehouse))
    try:
        if config is None:
            model = registry.require_champion(con)
        else:
            model = train_and_register(con, settings.models, REPO_ROOT, config, "test").model
            promote(con, model.model_version)
        score_days(con, model, DAYS)
        batch = con.execute("select * from ml.predictions order by flight_id").df()
    finally:
        con.close()
    publish_snapshot(settings.warehouse)
    return batch


@pytest.fixture(scope="module")
def served(six_weeks_champion, tmp_path_factory):
    """six_weeks' champion (cutoff 02-07) scoring DAYS, published, and the service on it."""
    settings = copy_of(six_weeks_champion, tmp_path_factory.mktemp("served"))
    batch = _train_score_publish(settings, None)
    client = TestClient(create_app(OnlineScorer(snapshot_path(settings.warehouse))))
    return settings, batch, client


def _online(client: TestClient, flight_ids: list[str]) -> pd.DataFrame:
    frames = []
    for start in range(0, len(flight_ids), MAX_BATCH):
        response = client.post("/score", json={"flight_ids": flight_ids[start : start + MAX_BATCH]})
        assert response.status_code == 200, response.text
        body = response.json()
        frames.append(pd.DataFrame(body["scores"]).assign(model_version=body["model_version"]))
    return pd.concat(frames, ignore_index=True)


def _assert_same_scores(online: pd.DataFrame, batch: pd.DataFrame) -> None:
    batch = batch.set_index("flight_id").loc[online.flight_id]
    assert (online.model_version.to_numpy() == batch.model_version.to_numpy()).all()
    np.testing.assert_allclose(online.score.to_numpy(), batch.score.to_numpy(), rtol=0, atol=1e-12)
    assert (online.predicted_label.to_numpy() == batch.predicted_label.to_numpy()).all()
    assert (online.forecast_missing.to_numpy() == batch.forecast_missing.to_numpy()).all()


def test_every_flight_scored_online_gets_the_batch_pipelines_score_and_model(served):
    _, batch, client = served
    flight_ids = batch.flight_id.tolist()
    assert len(flight_ids) > 5 * MAX_BATCH and batch.flight_date.nunique() == len(DAYS)

    _assert_same_scores(_online(client, flight_ids), batch)
    one_a_day = batch.groupby("flight_date").head(3)
    for row in one_a_day.itertuples():
        response = client.get(f"/flights/{row.flight_id}/score")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["flight_id"] == row.flight_id
        assert body["flight_date"] == pd.Timestamp(row.flight_date).date().isoformat()
        assert abs(body["score"] - row.score) <= 1e-12
        assert body["model_version"] == row.model_version


def test_a_batch_answers_in_the_order_asked_repeats_included(served):
    _, batch, client = served
    asked = batch.flight_id.iloc[[5, 0, 5, 3]].tolist()
    online = _online(client, asked)
    assert online.flight_id.tolist() == asked
    _assert_same_scores(online, batch)


def test_health_names_the_champion_and_the_snapshot(served):
    settings, batch, client = served
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["model_version"] == batch.model_version.iloc[0]
    assert body["model_cutoff"] == "2013-02-07"
    assert body["features_through"] == "2013-02-14"
    published = duckdb.connect(str(snapshot_path(settings.warehouse)), read_only=True)
    (at,) = published.execute("select published_at from meta.snapshot_info").fetchone()
    published.close()
    assert pd.Timestamp(body["snapshot_published_at"]) == pd.Timestamp(at)


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "says"),
    [
        ("get", "/flights/not-a-flight/score", None, 422, "should match pattern"),
        ("get", f"/flights/{'A' * 32}/score", None, 422, "should match pattern"),
        ("get", f"/flights/{'0' * 32}/score", None, 404, "1 unknown flight_id(s): 0000"),
        ("post", "/score", {"flight_ids": ["0" * 32] * (MAX_BATCH + 1)}, 422, "at most 1000"),
        ("post", "/score", {"flight_ids": []}, 422, "at least 1"),
        ("post", "/score", {"flight_ids": ["0" * 31]}, 422, "should match pattern"),
        ("post", "/score", {"flights": ["0" * 32]}, 422, "flight_ids"),
    ],
)
def test_a_bad_request_gets_a_4xx_that_says_what_was_wrong(
    served, method, path, body, status, says
):
    _, _, client = served
    response = client.request(method, path, json=body)
    assert response.status_code == status
    assert says in response.text


def test_an_unknown_flight_fails_the_whole_batch_and_is_named(served):
    _, batch, client = served
    response = client.post("/score", json={"flight_ids": [batch.flight_id.iloc[0], "f" * 32]})
    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "1 unknown flight_id(s): " + "f" * 32 in detail and "through 2013-02-14" in detail


def test_without_a_snapshot_a_champion_or_its_artifact_the_service_says_why(six_weeks, tmp_path):
    missing = TestClient(create_app(OnlineScorer(tmp_path / "analytics.duckdb")))
    response = missing.get("/health")
    assert response.status_code == 503 and "no analysts' snapshot at" in response.json()["detail"]

    untrained = copy_of(six_weeks, tmp_path)
    publish_snapshot(untrained.warehouse)
    client = TestClient(create_app(OnlineScorer(snapshot_path(untrained.warehouse))))
    for path in ("/health", f"/flights/{'0' * 32}/score"):
        response = client.get(path)
        assert response.status_code == 503 and "no champion" in response.json()["detail"]


def test_a_missing_model_artifact_is_a_503_naming_it(served, tmp_path):
    settings, batch, _ = served
    copy = copy_of(settings, tmp_path)  # with its models; its registry row is pointed away
    con = duckdb.connect(str(copy.warehouse))
    con.execute("update ml.model_registry set artifact_path = ?", [str(tmp_path / "gone")])
    con.close()
    publish_snapshot(copy.warehouse)
    client = TestClient(create_app(OnlineScorer(snapshot_path(copy.warehouse))))
    response = client.get(f"/flights/{batch.flight_id.iloc[0]}/score")
    assert response.status_code == 503 and "is missing at" in response.json()["detail"]


def test_a_new_snapshot_and_champion_are_picked_up_without_a_restart(served, tmp_path):
    settings, before, _ = served
    copy = copy_of(settings, tmp_path)  # with the first model, copied beside it
    publish_snapshot(copy.warehouse)
    client = TestClient(create_app(OnlineScorer(snapshot_path(copy.warehouse))))
    flight_ids = before.flight_id.tolist()
    assert client.get("/health").json()["model_version"] == before.model_version.iloc[0]

    after = _train_score_publish(copy, SECOND)  # the next evening: a new champion, published

    assert after.model_version.iloc[0] != before.model_version.iloc[0]
    assert client.get("/health").json()["model_version"] == after.model_version.iloc[0]
    _assert_same_scores(_online(client, flight_ids), after)


def test_the_openapi_schema_lists_the_routes(served):
    _, _, client = served
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/health", "/flights/{flight_id}/score", "/score"}
    assert "503" in schema["paths"]["/score"]["post"]["responses"]


def test_flights_kept_in_memory_and_those_read_from_the_snapshot_score_alike(served):
    settings, batch, _ = served
    in_memory = OnlineScorer(snapshot_path(settings.warehouse), memory_days=7)
    from_file = OnlineScorer(snapshot_path(settings.warehouse), memory_days=0)
    kept = pd.DataFrame(in_memory.current().scores.values())
    assert kept.flight_date.min() == date(2013, 2, 8) and not from_file.current().scores

    flight_ids = batch.flight_id.tolist()  # 02-07 is read from the file, the rest from memory
    for scorer in (in_memory, from_file):
        _, online = scorer.score(flight_ids)
        _assert_same_scores(pd.DataFrame(online), batch)
