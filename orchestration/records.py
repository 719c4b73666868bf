"""What the planner reads of Dagster's records: the pipeline runs not finished, the newest
materializations of an asset (per partition or at all), the scoring gate's verdicts per day,
the champion's promotion. Every question is asked of the Dagster instance, never of the
warehouse (a sensor must not open DuckDB while a run writes it)."""

from __future__ import annotations

from collections.abc import Iterable

from dagster import AssetKey, AssetRecordsFilter, DagsterEventType, DagsterRunStatus, RunsFilter

from ml.training_config import DEFAULT_CUTOFF
from orchestration.keys import CHAMPION, FLIGHT_FEATURES, GATE_CHECK, PIPELINE_JOBS

UNFINISHED = [
    DagsterRunStatus.QUEUED,
    DagsterRunStatus.NOT_STARTED,
    DagsterRunStatus.STARTING,
    DagsterRunStatus.STARTED,
]


def unfinished_runs(instance) -> list:
    """Pipeline runs queued or running: the automation plans nothing until they end."""
    runs = instance.get_runs(filters=RunsFilter(statuses=UNFINISHED))
    return [run for run in runs if run.job_name in PIPELINE_JOBS]


class Records:
    """The records the stages read, each fetched once per plan."""

    def __init__(self, instance) -> None:
        self.instance = instance
        self._latest: dict[AssetKey, dict[str, int]] = {}
        self._records: dict[AssetKey, dict] = {}
        self._gate: dict[str, tuple[bool, float, str]] | None = None

    def latest(self, key: AssetKey) -> dict[str, int]:
        """partition -> storage id of its newest materialization."""
        if key not in self._latest:
            self._latest[key] = dict(
                self.instance.event_log_storage.get_latest_storage_id_by_partition(
                    key, DagsterEventType.ASSET_MATERIALIZATION
                )
            )
        return self._latest[key]

    def newest(self, key: AssetKey):
        """The newest materialization record of an asset (any partition), or None."""
        records = self.instance.fetch_materializations(key, limit=1, ascending=False).records
        return records[0] if records else None

    def latest_records(self, key: AssetKey) -> dict:
        """partition (None when unpartitioned) -> record of its newest materialization."""
        if key not in self._records:
            latest = self.latest(key)
            if latest:
                records = self.instance.fetch_materializations(
                    AssetRecordsFilter(asset_key=key, storage_ids=list(latest.values())),
                    limit=len(latest) + 1,
                ).records
            else:
                records = [record] if (record := self.newest(key)) is not None else []
            self._records[key] = {record.partition_key: record for record in records}
        return self._records[key]

    def gate(self) -> dict[str, tuple[bool, float, str]]:
        if self._gate is None:
            self._gate = gate_verdicts(self.instance)
        return self._gate


def gate_verdicts(instance) -> dict[str, tuple[bool, float, str]]:
    """day -> (passed, when, why) of the scoring gate's latest error-level verdict."""
    latest: dict[str, tuple[bool, float, str]] = {}
    for record in instance.event_log_storage.get_asset_check_execution_history(
        GATE_CHECK, limit=10_000
    ):
        evaluation = record.event.asset_check_evaluation if record.event else None
        if evaluation is None or record.partition is None or record.partition in latest:
            continue
        passed = evaluation.passed or evaluation.severity.value != "ERROR"
        latest[record.partition] = (passed, record.event.timestamp, evaluation.description or "")
    return latest


def champion_promotion(state: Records):
    """(storage id, model version, cutoff) of the champion's promotion, or None."""
    record = state.newest(CHAMPION)
    if record is None:
        return None
    metadata = record.asset_materialization.metadata
    version = str(metadata["champion_version"].value)
    cutoff = str(metadata["cutoff"].value) if "cutoff" in metadata else ""
    return record.storage_id, version, cutoff or DEFAULT_CUTOFF.isoformat()


def current_verdicts(state: Records, days: Iterable[str]) -> dict[str, tuple[bool, str]]:
    """day -> (passed, why) of the scoring gate's verdict on the day's current features;
    days the gate has not judged since their features were last built are left out."""
    built_at = {
        day: record.timestamp for day, record in state.latest_records(FLIGHT_FEATURES).items()
    }
    verdicts = state.gate()
    return {
        day: (verdicts[day][0], verdicts[day][2])
        for day in days
        if day in verdicts and verdicts[day][1] > built_at.get(day, float("inf"))
    }
