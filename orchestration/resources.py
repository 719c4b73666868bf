from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import duckdb
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject

from ingest.loader import connect
from ingest.settings import DBT_PROJECT_DIR, Settings, get_settings
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


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())
