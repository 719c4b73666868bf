from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import duckdb
from dagster import (
    AssetExecutionContext,
    ConfigurableIOManager,
    ConfigurableResource,
    InputContext,
    OutputContext,
)
from dagster_dbt import DbtCliResource, DbtProject

from ingest.recorded import Recording, record_step
from ingest.settings import DBT_PROJECT_DIR, Settings, get_settings
from ingest.warehouse import connect
from ml.features import WarehouseSql
from ml.monitoring import RetrainingPolicy
from ml.registry import RegisteredModel
from orchestration.dagster_private import FlightlineDbtCliResource
from orchestration.dbt_manifest import dbt_executable, ensure_manifest

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
# Plain `dagster dev` from the repository root: parse the dbt project when its manifest is
# missing or older than the project's files. (dagster-dbt's `prepare_if_dev()` parses at
# every load, in the code server and again in each run worker, ~5 s each, and 0.29's
# DbtProject takes no other preparer.) The CLI, tests and CI call ensure_manifest themselves.
if dbt_project.preparer.using_dagster_dev():
    ensure_manifest()


class WarehouseResource(ConfigurableResource):
    """The flightline data directory and its DuckDB warehouse.

    Paths are resolved when a run uses the resource, from $FLIGHTLINE_HOME (or data/), the
    same variable dbt's profile reads, so Python and dbt always write the same file.
    """

    @property
    def settings(self) -> Settings:
        return get_settings()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        con = connect(self.settings.warehouse)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def recording(
        self,
        context: AssetExecutionContext,
        step: str,
        arguments: dict[str, Any],
        model: RegisteredModel | None = None,
        duckdb_only: bool = False,
    ) -> Iterator[Recording]:
        """What the step run inside the block reads, recorded for `flightline debug`
        (ingest/recorded.py): `model` by its version; the step copies the relations it reads
        (Recording.copy_rows) and reports `Recording.metadata()` once the block has ended.
        `duckdb_only`: the step reads DuckDB's tables on every engine (ingest)."""
        with record_step(
            self.settings, context.run.run_id, step, arguments, copies=True if duckdb_only else None
        ) as recording:
            if model is not None:
                recording.references["model"] = asdict(model)
            yield recording

    def data(self, con: duckdb.DuckDBPyConnection) -> WarehouseSql:
        """Where the feature rows, the predictions and their outcomes are, for the steps
        that read or write them (training set, promotion gate, scoring gate, scoring, its
        check, drift, the retraining decision, model cards): `con` itself on DuckDB, a Spark
        session with FLIGHTLINE_ENGINE=spark (ingest/spark_session.py). The registry and
        the other control tables are always `con`'s."""
        if self.settings.engine == "spark":
            from ingest.spark_session import open_spark

            return open_spark(self.settings)
        return con


class MlSettings(ConfigurableResource):
    """Knobs of the ML pipelines."""

    promotion_margin: float = 0.002
    """A candidate must beat the champion's ROC AUC by this much to replace it."""
    drift_warn: float = 0.1
    """PSI (against both references) above which the drift check warns."""
    drift_fail: float = 0.25
    """PSI (against both references) above which a population column alerts: the drift
    check fails and the retraining decision asks for a retraining."""
    retrain_max_age_days: int = RetrainingPolicy.max_age_days
    """Retrain at least this often (days between the champion's cutoff and today)."""
    retrain_min_days_between: int = RetrainingPolicy.min_days_between
    """A champion younger than this is not judged on drift or performance yet."""
    retrain_auc_drop: float = RetrainingPolicy.auc_drop
    """Retrain when the last week's pooled ROC AUC is this far below validation."""

    def retraining_policy(self) -> RetrainingPolicy:
        return RetrainingPolicy(
            max_age_days=self.retrain_max_age_days,
            min_days_between=self.retrain_min_days_between,
            auc_drop=self.retrain_auc_drop,
        )


def dbt_resource() -> DbtCliResource:
    """dagster-dbt's resource, with flightline's speed-ups where they are tested
    (orchestration/dagster_private/, which falls back to dagster-dbt's own methods)."""
    return FlightlineDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


class RunScopedIOManager(ConfigurableIOManager):
    """What one step hands the next (a training set's file and settings, a candidate's
    version): small JSON values stored per run and step under dagster_home/storage/runs/.

    Dagster's FilesystemIOManager keys an asset's value by the asset key alone, so of two
    overlapping training runs each would read whichever wrote last. Keyed by the producing
    run and step (Dagster's output identifier), a step reads its own run's upstream value,
    and a re-execution reads the value of the run it re-executes (Dagster names that run in
    the input's upstream output). An asset materialized without its upstream in the run
    (a "Materialize" of one asset in the UI) reads the upstream's latest value, as Dagster's
    own IO managers do: there is no run of its own to read."""

    def _path(self, identifier: list[str]) -> Path:
        return get_settings().dagster_home / "storage" / "runs" / Path(*identifier)

    def _latest(self, asset_key) -> Path:
        return get_settings().dagster_home / "storage" / "assets" / Path(*asset_key.path)

    def handle_output(self, context: OutputContext, obj: dict) -> None:
        text = json.dumps(obj, sort_keys=True)
        paths = [self._path(context.get_identifier())]
        if context.has_asset_key:
            paths.append(self._latest(context.asset_key))
        for path in paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)

    def load_input(self, context: InputContext) -> dict:
        upstream = context.upstream_output
        path = self._path(upstream.get_identifier())
        if not path.exists() and context.has_asset_key:
            path = self._latest(context.asset_key)
            context.log.info(
                f"{context.asset_key.to_user_string()} was not built in this run "
                "or the run it re-executes: reading its latest value"
            )
        if not path.exists():
            raise FileNotFoundError(
                f"{path}: the upstream step's value is not stored (run {upstream.run_id}); "
                "materialize its asset first"
            )
        return json.loads(path.read_text())
