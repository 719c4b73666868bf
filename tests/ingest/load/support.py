"""Helpers the loader's tests share: counts, row orders and table digests."""

import hashlib

from ingest.catalog import FEEDS


def count(con, sql):
    return con.execute(sql).fetchone()[0]


def assert_counts_add_up(con):
    bad = con.execute(
        """
        select source_file, rows_read, rows_loaded, rows_quarantined from ingest.file_log
        where rows_read <> rows_loaded + rows_quarantined
        """
    ).fetchall()
    assert bad == []
    quarantined = count(con, "select count(*) from ingest.quarantined_rows")
    logged = count(
        con,
        "select coalesce(sum(rows_quarantined), 0) from ingest.file_log where status = 'loaded'",
    )
    assert quarantined == logged


def quarantined_rows(con):
    return dict(con.execute("select row_number, reason from ingest.quarantined_rows").fetchall())


def file_order(con, table, path, column):
    return [
        str(value)
        for (value,) in con.execute(
            f"select {column} from {table} where _source_file = ? order by _row_number",
            [f"{path.parent.name}/{path.name}"],  # as recorded: inside landing/
        ).fetchall()
    ]


def misnumbered_files(con, table):
    return con.execute(
        f"""
        select count(*) from (
            select count(*) as n, min(_row_number) as first, max(_row_number) as last
            from {table} group by _source_file
        ) where first <> 1 or last <> n
        """
    ).fetchone()[0]


def table_digest(con, table: str) -> str:
    rows = con.execute(f"select * exclude (_loaded_at) from {table} order by all").fetchall()
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def digests(con) -> dict[str, str]:
    return {spec.table: table_digest(con, spec.table) for spec in FEEDS}


def counts_add_up(con) -> None:
    bad = con.execute(
        "select source_file, rows_read, rows_loaded, rows_quarantined from ingest.file_log "
        "where rows_read <> rows_loaded + rows_quarantined"
    ).fetchall()
    assert bad == []
    assert con.execute("select count(*) from ingest.quarantined_rows where reason is null")
    assert not con.execute(
        "select count(*) from ingest.quarantined_rows where reason is null"
    ).fetchone()[0]


def day_rows(con, table: str, column: str, day: str) -> int:
    return con.execute(f"select count(*) from {table} where {column} = ?", [day]).fetchone()[0]
