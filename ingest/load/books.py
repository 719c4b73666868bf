"""The loader's books on landed files: what `ingest.file_log` and `ingest.accepted_files`
say a feed has seen (read before a load), and the file log a load writes."""

from __future__ import annotations

import duckdb

from ingest.catalog import FeedSpec
from ingest.load.outcomes import FileOutcome
from ingest.warehouse import execute


def logged(
    con: duckdb.DuckDBPyConnection, spec: FeedSpec
) -> tuple[set[tuple[str, str]], list[tuple], set[str]]:
    """(path, hash) pairs already settled (loaded, duplicate, or quarantined and not
    accepted since), the feed's file log rows (path, hash, status, partition), and the
    hashes an operator accepted."""
    rows = execute(
        con,
        "select source_file, content_hash, status, partition_key from ingest.file_log "
        "where feed = ?",
        [spec.name],
    ).fetchall()
    accepted = accepted_hashes(con, spec)
    seen = {
        (path, digest)
        for path, digest, status, _ in rows
        if not (status == "quarantined" and digest in accepted)
    }
    return seen, rows, accepted


def accepted_hashes(con: duckdb.DuckDBPyConnection, spec: FeedSpec) -> set[str]:
    return {
        digest
        for (digest,) in execute(
            con,
            "select content_hash from ingest.accepted_files where feed = ?",
            [spec.name],
        ).fetchall()
    }


def write_file_log(
    con: duckdb.DuckDBPyConnection, batch_id: str, spec: FeedSpec, logged: list[FileOutcome]
) -> None:
    """One row per file, in one statement of zipped lists: executemany costs ~1.3 ms a row
    in DuckDB (0.5 s for a year of a daily feed)."""
    if not logged:
        return
    execute(
        con,
        """
        insert into ingest.file_log (batch_id, feed, source_file, content_hash, partition_key,
            status, rows_read, rows_loaded, rows_quarantined, reason, logged_at)
        select ?, ?, unnest(?::varchar[]),
            unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::varchar[]),
            unnest(?::bigint[]), unnest(?::bigint[]), unnest(?::bigint[]),
            unnest(?::varchar[]), now()
        """,
        [
            batch_id,
            spec.name,
            [o.source for o in logged],
            *(
                [getattr(o, name) for o in logged]
                for name in (
                    "content_hash",
                    "partition_key",
                    "status",
                    "rows_read",
                    "rows_loaded",
                    "rows_quarantined",
                    "reason",
                )
            ),
        ],
    )
