"""Where flightline reads and writes: one settings object rooted at the data directory.

Every path the pipeline writes lives under ``home``: ``data/`` at the repository root, or
``$FLIGHTLINE_HOME`` when it is set (tests and a second copy of the pipeline use that).
Settings are read when a command or resource runs, never at import time.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


@dataclass(frozen=True)
class Settings:
    home: Path

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def quarantine(self) -> Path:
        return self.home / "quarantine"

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def warehouse(self) -> Path:
        return self.warehouse_dir / "warehouse.duckdb"

    @property
    def models(self) -> Path:
        return self.home / "models"

    @property
    def training_sets(self) -> Path:
        return self.home / "training_sets"

    @property
    def quality(self) -> Path:
        """Great Expectations' project: suites as stored, results, Data Docs."""
        return self.home / "quality"

    @property
    def reports(self) -> Path:
        return self.home / "reports"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster_home"

    @property
    def dbt_runs(self) -> Path:
        """dbt's target path for the pipeline's invocations (each in a folder of its own)
        and the partial-parse state they start from (orchestration/dbt_manifest.py)."""
        return self.home / "dbt_runs"

    @property
    def duckdb_memory_limit(self) -> str:
        """DuckDB's memory limit for every connection flightline opens, dbt's included
        ($FLIGHTLINE_DUCKDB_MEMORY, default 4GB). DuckDB's own default is 80% of the
        machine: a 30M-flight build would take it all. Past the limit DuckDB spills
        to a temp directory next to the warehouse instead."""
        return os.environ.get("FLIGHTLINE_DUCKDB_MEMORY", "4GB")


def get_settings() -> Settings:
    home = os.environ.get("FLIGHTLINE_HOME")
    return Settings(home=Path(home).resolve() if home else REPO_ROOT / "data")
