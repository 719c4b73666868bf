"""The Dagster instance of a data directory: data/dagster_home, with the warehouse pool."""

import json
import os
from pathlib import Path

from ingest.settings import Settings
from orchestration import dagster_private as private
from orchestration.sqlite_tuning import speed_up_event_storage

BEGIN = (
    "# >>> flightline: this block is rewritten by every flightline command "
    "(orchestration/instance.py)."
)
END = "# <<< flightline"
MANAGED = """\
# To manage these settings yourself (a Postgres storage, say), delete the block with both
# marker lines: flightline then leaves this file alone. Lines outside the block are yours.
# Every asset that writes the DuckDB warehouse is in the pool "duckdb_warehouse"; DuckDB
# allows one writing process, so the pool has one slot.
concurrency:
  pools:
    default_limit: 1
telemetry:
  enabled: false
# A run whose worker died (not one whose step failed: a failed gate is no transient fault)
# is started again by the daemon.
run_retries:
  enabled: true
  max_retries: 2
  retry_on_asset_or_op_failure: false
# Dagster's default SQLite storage, in its default places under this directory, with an event
# log that writes a step's per-partition events in one go (orchestration/dagster_private/).
run_storage:
  module: dagster._core.storage.runs
  class: SqliteRunStorage
  config:
    base_dir: {runs}
event_log_storage:
  module: {event_log_module}
  class: {event_log_class}
  config:
    base_dir: {events}
schedule_storage:
  module: dagster._core.storage.schedules
  class: SqliteScheduleStorage
  config:
    base_dir: {schedules}
"""


# The first line of the dagster.yaml flightline wrote whole before the marked block existed:
# such a file is all flightline's (and names a module that is gone), so it is replaced.
WHOLE_FILE_BEFORE = "# Written by flightline (every command rewrites it"


def dagster_yaml(current: str | None, managed: str) -> str | None:
    """The file with flightline's block written in, or None to leave it as it is: a file
    that exists without the block is the operator's own. Everything from the first begin
    marker to the last end marker is the block (a block pasted twice becomes one)."""
    block = f"{BEGIN}\n{managed}{END}\n"
    if current is None or current.startswith(WHOLE_FILE_BEFORE):
        return block
    start, end = current.find(BEGIN), current.rfind(END)
    if start < 0 or end < start:
        return None
    return current[:start] + block + current[end + len(END) :].lstrip("\n")


def prepare_dagster_home(settings: Settings) -> Path:
    home = settings.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    root = home.resolve()
    # Flightline's event log (orchestration/dagster_private/) unless its guard says no.
    module, cls = (
        (private.__name__, "BatchingSqliteEventLogStorage")
        if private.enabled()
        else ("dagster._core.storage.event_log", "SqliteEventLogStorage")
    )
    managed = MANAGED.format(  # JSON strings are YAML strings: any path, quoted
        event_log_module=module,
        event_log_class=cls,
        runs=json.dumps(str(root / "history")),
        events=json.dumps(str(root / "history" / "runs")),
        schedules=json.dumps(str(root / "schedules")),
    )
    current = config.read_text() if config.exists() else None
    wanted = dagster_yaml(current, managed)
    if wanted is not None and wanted != current:
        tmp = config.with_name(f".dagster.yaml.{os.getpid()}.tmp")
        tmp.write_text(wanted)
        os.replace(tmp, config)  # a reader (the daemon) never sees half a file
    os.environ["DAGSTER_HOME"] = str(home)
    # Dagster hands a step's per-partition events to the event log as one batch (stored in
    # one transaction a database, orchestration/dagster_private/) instead of one at a time.
    os.environ.setdefault("DAGSTER_EVENT_BATCH_SIZE", "1000")
    # A single-run backfill otherwise records one "materialization planned" event per asset
    # and partition: ~2,000 SQLite writes (~30 s) before a year-long run starts. With this,
    # one event per asset carries the partition range. Dagster's caveat: a failed run does
    # not mark its partitions failed; `flightline run` finds and rebuilds them itself (the
    # features older than their raw feeds, see orchestration/planner.py, _features).
    os.environ.setdefault("DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS", "true")
    if private.enabled():
        speed_up_event_storage(home)
    return home
