import time

from dagster import AssetKey, AssetMaterialization, DagsterInstance
from dagster._core.events import DagsterEvent, DagsterEventType, StepMaterializationData
from dagster._core.events.log import EventLogEntry

from ingest.settings import Settings
from orchestration.event_log import BatchingSqliteEventLogStorage
from orchestration.instance import prepare_dagster_home

ASSET = AssetKey(["marts", "fct_flights"])


def _materializations(run_id: str, days: list[str]) -> list[EventLogEntry]:
    events = []
    for rows, day in enumerate(days):
        event = DagsterEvent(
            event_type_value=DagsterEventType.ASSET_MATERIALIZATION.value,
            job_name="feature_pipeline",
            step_key="dbt_daily_models",
            event_specific_data=StepMaterializationData(
                AssetMaterialization(
                    ASSET,
                    partition=day,
                    metadata={"dagster/row_count": rows},
                    tags={"dagster/data_version": f"v{rows}"},
                )
            ),
        )
        events.append(
            EventLogEntry(
                user_message="",
                level=20,
                job_name="feature_pipeline",
                run_id=run_id,
                error_info=None,
                timestamp=time.time(),
                step_key="dbt_daily_models",
                dagster_event=event,
            )
        )
    return events


def _recorded(instance: DagsterInstance, run_id: str) -> dict:
    storage = instance.event_log_storage
    latest = instance.get_latest_materialization_event(ASSET)
    records = storage.get_records_for_run(run_id).records
    return {
        "partitions": instance.get_materialized_partitions(ASSET),
        "latest": (latest.dagster_event.partition, latest.asset_materialization.metadata),
        "run events": [r.event_log_entry.dagster_event.partition for r in records],
        "index events": [
            r.partition_key
            for r in instance.fetch_materializations(ASSET, limit=100, ascending=True).records
        ],
        "by tag": len(
            storage.get_event_tags_for_asset(ASSET, filter_tags={"dagster/data_version": "v1"})
        ),
    }


def _restore_environment(monkeypatch) -> None:
    # prepare_dagster_home sets these in os.environ; monkeypatch puts them back after.
    for name in ("DAGSTER_HOME", "DAGSTER_EVENT_BATCH_SIZE"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


def test_a_batch_is_recorded_as_the_same_events_one_by_one(tmp_path, monkeypatch):
    """The batch write (one transaction a database) leaves what Dagster's own per-event
    write leaves: the run's events, the cross-run index, partition status and tags."""
    _restore_environment(monkeypatch)
    days = ["2013-01-01", "2013-01-02", "2013-01-03"]
    recorded = []
    for name, write in (("single", "store_event"), ("batch", "store_event_batch")):
        home = Settings(home=tmp_path / name)
        prepare_dagster_home(home)
        instance = DagsterInstance.from_config(str(home.dagster_home))
        assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)
        events = _materializations("run-1", days)
        if write == "store_event":
            for event in events:
                instance.event_log_storage.store_event(event)
        else:
            instance.event_log_storage.store_event_batch(events)
        recorded.append(_recorded(instance, "run-1"))
    single, batch = recorded
    assert single == batch
    assert batch["partitions"] == set(days)
    assert batch["latest"][0] == "2013-01-03"
    assert batch["run events"] == days and batch["index events"] == days
    assert batch["by tag"] == 1


def test_the_instance_keeps_the_runs_of_a_home_written_before(tmp_path, monkeypatch):
    """A data directory from before (Dagster's default storage) keeps its history: the
    rewritten dagster.yaml points at the same files."""
    _restore_environment(monkeypatch)
    home = Settings(home=tmp_path / "home")
    home.dagster_home.mkdir(parents=True)
    (home.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    before = DagsterInstance.from_config(str(home.dagster_home))
    before.event_log_storage.store_event(_materializations("old-run", ["2013-01-01"])[0])
    prepare_dagster_home(home)
    after = DagsterInstance.from_config(str(home.dagster_home))
    assert after.get_materialized_partitions(ASSET) == {"2013-01-01"}
