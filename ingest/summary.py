"""What is in the warehouse: the numbers the CLI prints after a run."""

from __future__ import annotations

import duckdb

SUMMARY_SCHEMAS = ("raw", "marts", "features", "ml")


def table_counts(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int]]:
    tables = con.execute(
        """
        select table_schema || '.' || table_name
        from information_schema.tables
        where table_schema in (select unnest(?::varchar[])) and table_type = 'BASE TABLE'
        order by table_schema, table_name
        """,
        [list(SUMMARY_SCHEMAS)],
    ).fetchall()
    return [(name, con.execute(f"select count(*) from {name}").fetchone()[0]) for (name,) in tables]


def quarantine_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    rows, files = con.execute(
        """
        select
            (select count(*) from ingest.quarantined_rows),
            (select count(*) from ingest.file_log where status = 'quarantined')
        """
    ).fetchone()
    return {"quarantined_rows": rows, "quarantined_files": files}
