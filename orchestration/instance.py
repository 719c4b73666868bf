"""The Dagster instance of a data directory: data/dagster_home, with the warehouse pool."""

import os
from pathlib import Path

from ingest.settings import Settings

DAGSTER_YAML = """\
# Written by flightline. Every asset that writes the DuckDB warehouse is in the pool
# "duckdb_warehouse"; DuckDB allows one writing process, so the pool has one slot.
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
"""


def prepare_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    # A single-run backfill otherwise records one "materialization planned" event per asset
    # and partition: ~2,000 SQLite writes (~30 s) before a year-long run starts. With this,
    # one event per asset carries the partition range. Dagster's caveat: a failed run does
    # not mark its partitions failed; `flightline run` finds and rebuilds them itself (the
    # dates of batches whose run did not succeed, see orchestration/runner.py).
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    return home
