"""Where flightline reads and writes: one settings object rooted at the data directory.

Every path the pipeline writes lives under ``home``: ``data/`` at the repository root, or
``$FLIGHTLINE_HOME`` when it is set (tests and a second copy of the pipeline use that).
Settings are read when a command or resource runs, never at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import overload

REPO_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
ENGINES = ("duckdb", "spark")


def source_stamp(paths: Iterable[Path], pattern: str = "*") -> tuple[int, int]:
    """(newest modification time in ns, number) of the files at `paths`: a file, or a
    folder's files matching `pattern` at any depth (a path that is not there: none). Whether
    the code (orchestration/run_workers.py) or the dbt project (orchestration/dbt_manifest.py)
    changed since a moment."""
    files: list[Path] = []
    for path in paths:
        files.extend(path.rglob(pattern) if path.is_dir() else [path])
    times = [file.stat().st_mtime_ns for file in files if file.is_file()]
    return max(times, default=0), len(times)


class _Under:
    """A path under the data directory, read as an attribute of Settings."""

    def __init__(self, *parts: str, doc: str = "") -> None:
        self.parts, self.__doc__ = parts, doc

    @overload
    def __get__(self, settings: None, owner: type) -> _Under: ...
    @overload
    def __get__(self, settings: Settings, owner: type) -> Path: ...
    def __get__(self, settings: Settings | None, owner: type) -> Path | _Under:
        if settings is None:
            return self  # read on the class: the descriptor itself (help(), docs)
        return settings.home.joinpath(*self.parts)


@dataclass(frozen=True)
class Settings:
    home: Path

    # Every path flightline writes, under the data directory (docs/architecture.md lists them).
    landing = _Under("landing")
    quarantine = _Under("quarantine")
    warehouse_dir = _Under("warehouse")
    warehouse = _Under("warehouse", "warehouse.duckdb")
    models = _Under("models")
    training_sets = _Under("training_sets")
    quality = _Under("quality", doc="Great Expectations' project: suites, results, Data Docs.")
    reports = _Under("reports")
    dagster_home = _Under("dagster_home")
    spark = _Under(
        "spark",
        doc="The Spark engine's files (profiles.yml's spark target): raw/ (the loader's Parquet "
        "copies of the raw tables), warehouse/ (the tables dbt builds), metastore_db/.",
    )
    recorded = _Under(
        "recorded",
        doc="What each run's steps read, by run and step (ingest/recorded.py): what "
        "`flightline debug` rebuilds.",
    )
    dbt_runs = _Under(
        "dbt_runs",
        doc="dbt's target path for the pipeline's invocations (each in a folder of its own) "
        "and the partial-parse state they start from (orchestration/dbt_manifest.py).",
    )

    @classmethod
    def of_warehouse(cls, path: Path) -> Settings:
        """The data directory a warehouse file belongs to: the warehouse and the analysts'
        snapshot both live in its warehouse/ folder."""
        return cls(home=path.resolve().parent.parent)

    @property
    def engine(self) -> str:
        """Where dbt builds the warehouse's models: duckdb (the default) or spark
        ($FLIGHTLINE_ENGINE; docs/spark.md). dbt reads the same variable (profiles.yml's
        default target), the ingest assets copy each raw table to spark/raw/ for Spark, and
        the Python steps read features and write predictions through a Spark session
        (orchestration/resources.py, `WarehouseResource.data`)."""
        engine = os.environ.get("FLIGHTLINE_ENGINE", "duckdb")
        if engine not in ENGINES:
            raise ValueError(
                f"FLIGHTLINE_ENGINE={engine!r}: flightline runs on {' or '.join(ENGINES)}"
            )
        return engine

    @property
    def duckdb_memory_limit(self) -> str:
        """DuckDB's memory limit for every connection flightline opens, dbt's included
        ($FLIGHTLINE_DUCKDB_MEMORY, default 4GB). DuckDB's own default is 80% of the
        machine: a 30M-flight build would take it all. Past the limit DuckDB spills
        to a temp directory next to the warehouse instead."""
        return os.environ.get("FLIGHTLINE_DUCKDB_MEMORY", "4GB")

    @property
    def recorded_days(self) -> int:
        """How long the recorded inputs of a run's steps are kept, in days
        ($FLIGHTLINE_RECORDED_DAYS, default 30)."""
        return int(os.environ.get("FLIGHTLINE_RECORDED_DAYS", "30"))

    @property
    def serve_memory_days(self) -> int:
        """`flightline serve` keeps the feature rows of the snapshot's last this many flight
        days in memory ($FLIGHTLINE_SERVE_MEMORY_DAYS, default 7): tomorrow's flights and the
        week before answer without a query. Older flights are read from the snapshot."""
        return int(os.environ.get("FLIGHTLINE_SERVE_MEMORY_DAYS", "7"))


def get_settings() -> Settings:
    home = os.environ.get("FLIGHTLINE_HOME")
    return Settings(home=Path(home).resolve() if home else REPO_ROOT / "data")
