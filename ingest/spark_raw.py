"""The raw tables as Parquet for the Spark engine: what the loader committed, copied whole.

Why a copy of the loader's tables and not a Spark loader (docs/spark.md): exactly-once by
content, corrected files replacing their partition, quarantine with reasons and the
accounting `rows_read = rows_loaded + rows_quarantined` are one transaction of the DuckDB
loader (ingest/load/); a second loader would be a second implementation of every one of
them. Spark reads what that transaction committed: each raw table is written to
`<data>/spark/raw/<table>/` after the load, and dbt's spark target declares the Spark tables
over those folders (macros/require_raw_tables.sql). A folder is replaced whole, by renaming a
finished copy into its place, so Spark never reads half a table.

Written from the loader's own connection (the warehouse has one writer) as Arrow batches
that pyarrow writes: DuckDB itself writes no file, so the loader's file-access restriction
(ingest/warehouse.py) stays as it is, and no path enters SQL. The table names are the
catalogue's.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from ingest.catalog import FEEDS, FeedSpec
from ingest.warehouse import connect, quote_name


def publish_raw_parquet(
    con: duckdb.DuckDBPyConnection, directory: Path, feeds: Iterable[FeedSpec] = FEEDS
) -> dict[str, int]:
    """Each feed's raw table to `directory/<feed>/part-0.parquet`; returns rows per feed."""
    directory.mkdir(parents=True, exist_ok=True)
    written = {}
    for feed in feeds:
        final = directory / feed.name
        fresh = directory / f".{feed.name}.new"
        stale = directory / f".{feed.name}.old"
        for leftover in (fresh, stale):
            shutil.rmtree(leftover, ignore_errors=True)
        fresh.mkdir()
        batches = con.sql(f"select * from raw.{quote_name(feed.name)}").to_arrow_reader()
        written[feed.name] = 0
        with pq.ParquetWriter(fresh / "part-0.parquet", batches.schema, compression="zstd") as out:
            for batch in batches:
                out.write_batch(batch)
                written[feed.name] += batch.num_rows
        if final.exists():
            final.rename(stale)
        fresh.rename(final)
        shutil.rmtree(stale, ignore_errors=True)
    return written


def publish_missing_raw_parquet(warehouse: Path, directory: Path) -> dict[str, int]:
    """The copies of the feeds that have none yet (a data directory built on DuckDB, then
    switched to Spark: its reference feeds load again only when their files change)."""
    missing = [feed for feed in FEEDS if not (directory / feed.name).is_dir()]
    if not missing:
        return {}
    con = connect(warehouse, read_only=True)  # the warehouse's own config, its busy error
    try:
        return publish_raw_parquet(con, directory, missing)
    finally:
        con.close()
