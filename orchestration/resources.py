from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

import duckdb
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject
from packaging.version import Version

from ingest.settings import DBT_PROJECT_DIR, Settings, get_settings
from ingest.warehouse import connect
from ml.monitoring import RetrainingPolicy
from orchestration.dbt_manifest import dbt_executable

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


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


class MlSettings(ConfigurableResource):
    """Knobs of the ML pipelines."""

    promotion_margin: float = 0.002
    """A candidate must beat the champion's ROC AUC by this much to replace it."""
    drift_warn: float = 0.1
    """PSI above which the drift check warns."""
    drift_fail: float = 0.25
    """PSI above which the drift check fails."""
    retrain_max_age_days: int = 30
    """Retrain at least this often (days between the champion's cutoff and today)."""
    retrain_min_days_between: int = 7
    """A champion younger than this is not judged on drift or performance yet."""
    retrain_auc_drop: float = 0.05
    """Retrain when the last week's pooled ROC AUC is this far below validation."""
    retrain_score_psi: float = 0.25
    """Retrain when the score's PSI over the last week exceeds this."""

    def retraining_policy(self) -> RetrainingPolicy:
        return RetrainingPolicy(
            max_age_days=self.retrain_max_age_days,
            min_days_between=self.retrain_min_days_between,
            auc_drop=self.retrain_auc_drop,
            score_psi_alert=self.retrain_score_psi,
        )


class FlightlineDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource without its in-process dbt adapter, and without
    asking the dbt executable its version.

    dagster-dbt (0.29) builds a dbt adapter in this process on every `cli()` call (importing
    dbt-core and the DuckDB adapter, loading the project and the profile: ~6 s on a
    process's first call, every `flightline run` and every evening) for
    `fetch_row_counts()` and `fetch_column_metadata()` only. flightline uses neither: DuckDB
    lets one process write the file, so row counts are read after dbt exits
    (orchestration/assets/dbt.py). `dbt.cli` runs dbt as a subprocess either way."""

    def _initialize_dbt_core_adapter(self, args):
        return None

    @cached_property
    def _cli_version(self) -> Version:
        """dagster-dbt (0.29) runs `dbt --version` once per resource instance, which is once
        per Dagster run: a dbt start-up of its own, ~2.3 s on 2 cores (3-3.6 s measured inside
        a run), before every run's first dbt step. The executable is this environment's own
        (dbt_executable()), so its version is the installed dbt-core's; dagster-dbt uses it to
        tell dbt-core from the Fusion engine (major version 2), which this project does not
        support."""
        if Path(self.dbt_executable).parent != Path(dbt_executable()).parent:
            return super()._cli_version
        return Version(installed_version("dbt-core"))


def dbt_resource() -> DbtCliResource:
    return FlightlineDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
