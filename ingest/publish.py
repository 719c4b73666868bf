"""The analysts' snapshot: a complete copy of the warehouse, swapped in atomically.

DuckDB allows one writing process, or many read-only ones, never both: an analyst reading
warehouse.duckdb would block the pipeline. So analysts read analytics.duckdb, which the
pipeline rewrites after each run that changed the warehouse: copy every schema, table and
view into a new file beside the snapshot (in a storage format older clients read), stamp
it, and os.replace() it over the old one. An analyst connection that is open keeps its file
(the old inode) and its consistent view; a new connection opens the new snapshot; nobody
ever sees a half-written one and the pipeline never waits for a reader.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ingest.processes import process_alive
from ingest.warehouse import connect, quote_name

# DuckDB 2.0 writes files (storage version 69+) that DuckDB 1.4 (the long-term-support line
# most BI drivers ship) and the duckdb-cli package on PyPI (1.5) cannot open. The snapshot is
# for those clients: written in the 1.4 storage format (a copy of every table and view, not
# of the file; 2013: ~0.2 s).
SNAPSHOT_STORAGE_VERSION = "v1.4.0"


@dataclass
class Published:
    path: Path
    seconds: float
    bytes: int
    published_at: datetime


def snapshot_path(warehouse: Path) -> Path:
    return warehouse.with_name("analytics.duckdb")


def publish_snapshot(warehouse: Path, runs: list[str] | None = None) -> Published:
    if not warehouse.exists():
        raise FileNotFoundError(f"no warehouse at {warehouse}: run the pipeline first")
    started = time.perf_counter()
    target = snapshot_path(warehouse)
    # Copies a crashed publish left behind (a full warehouse each): those whose process is
    # gone (a publish run from the UI may be writing its own right now).
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        pid = leftover.name.removesuffix(".tmp").rsplit(".", 1)[-1]
        if not pid.isdigit() or not process_alive(int(pid)):
            leftover.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        con = connect(warehouse)
        try:
            published_at = datetime.now(UTC)
            source = con.execute("select current_database()").fetchone()[0]
            con.execute(
                f"attach ? as snapshot (storage_version '{SNAPSHOT_STORAGE_VERSION}')", [str(tmp)]
            )
            try:
                con.execute(f"copy from database {quote_name(source)} to snapshot")
                con.execute("create schema if not exists snapshot.meta")
                con.execute(
                    "create or replace table snapshot.meta.snapshot_info as select "
                    "?::timestamptz as published_at, ?::varchar[] as run_ids, "
                    "?::varchar as source_warehouse",
                    [published_at, runs or [], str(warehouse)],
                )
            finally:
                con.execute("detach snapshot")
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return Published(target, time.perf_counter() - started, target.stat().st_size, published_at)
