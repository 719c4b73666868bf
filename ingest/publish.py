"""The analysts' snapshot: a complete copy of the warehouse, swapped in atomically.

DuckDB allows one writing process, or many read-only ones, never both: an analyst reading
warehouse.duckdb would block the pipeline. So analysts read analytics.duckdb, which the
pipeline rewrites after each run that changed the warehouse: checkpoint the warehouse, copy
the file to a temporary name beside the snapshot, stamp it, and os.replace() it over the old
one. An analyst connection that is open keeps its file (the old inode) and its consistent
view; a new connection opens the new snapshot; nobody ever sees a half-written one and the
pipeline never waits for a reader.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.warehouse import connect, duckdb_config


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
    # Copies a crashed publish left behind (a full warehouse each). Publishing runs under
    # the data directory's lock (ingest/datadir.py), so no other publish is writing one.
    for leftover in target.parent.glob(f".{target.name}.*.tmp"):
        leftover.unlink(missing_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        # Fold the write-ahead log into the file, so the file alone is the whole warehouse.
        con = connect(warehouse)
        try:
            con.execute("checkpoint")
            shutil.copyfile(warehouse, tmp)
        finally:
            con.close()
        published_at = datetime.now(UTC)
        snap = duckdb.connect(str(tmp), config=duckdb_config())
        try:
            snap.execute("create schema if not exists meta")
            snap.execute(
                "create or replace table meta.snapshot_info as select ?::timestamptz as "
                "published_at, ?::varchar[] as run_ids, ?::varchar as source_warehouse",
                [published_at, runs or [], str(warehouse)],
            )
            snap.execute("checkpoint")
        finally:
            snap.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return Published(target, time.perf_counter() - started, target.stat().st_size, published_at)
