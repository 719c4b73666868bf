"""The checks on rows where they landed, inside the load's transaction: a required value
missing, a row of another day than its file, a natural key seen before in the batch (the
first in file order loads); then the counts, which must add up against the records each
file holds as counted without DuckDB. A row that fails is marked in `_failed` with its
reason (batch.mark); a type that does not fit was caught by the reader (insert.py)."""

from __future__ import annotations

from ingest.catalog import FeedSpec
from ingest.load.batch import Batch, FileRows, drop_files, mark
from ingest.load.numbering import renumber_after_miscounts
from ingest.warehouse import execute


def unloadable_sql(spec: FeedSpec) -> tuple[str, str]:
    """(condition, reason) for a typed row that cannot load: a required column is null, or
    a daily feed's row belongs to another day than its file (_file_partition)."""
    checks = [
        (f'"{column.name}" is null', f"'{column.name} is required'")
        for column in spec.columns
        if column.required
    ]
    if spec.is_daily:
        part = f'"{spec.partition_column}"'
        checks.append(
            (
                f"{part} <> _file_partition::date",
                f"'{spec.partition_column} ' || {part} || ' is not the file''s date ' "
                "|| _file_partition",
            )
        )
    condition = " or ".join(f"({condition})" for condition, _ in checks)
    reason = ", ".join(f"case when {condition} then {reason} end" for condition, reason in checks)
    return condition, f"concat_ws('; ', {reason})"


def check_rows(batch: Batch) -> None:
    """Rows that are typed but cannot load (unloadable_sql), then duplicates of a natural
    key among the rest (the first in file order loads), into _failed.

    The usual batch has none: one scan of the batch's rows says so (per file: its rows,
    nulls in required columns, the range of its days; over the batch: distinct key
    hashes), and the row-by-row marking runs only when it found something. The same scan
    gives each file's first and last number, which numbering.py checks."""
    con, spec = batch.con, batch.spec
    required = " or ".join(f'"{c.name}" is null' for c in spec.columns if c.required)
    part = f'"{spec.partition_column}"' if spec.is_daily else "null"
    stats = execute(
        con,
        f"""
        select _source_file, count(*), count(*) filter (where {required or "false"}),
            min({part})::varchar, max({part})::varchar, min(_row_number), max(_row_number)
        from {spec.table} where {batch.where} group by all
        """,
    ).fetchall()
    batch.file_rows = {
        path: FileRows(rows, nulls, low, high) for path, rows, nulls, low, high, *_ in stats
    }
    renumber_after_miscounts(batch, stats)
    partitions = {outcome.source: outcome.partition_key for outcome in batch.staged}
    if any(
        nulls or (partitions[path] is not None and not low == high == partitions[path])
        for path, (_, nulls, low, high) in batch.file_rows.items()
    ):
        condition, reason = unloadable_sql(spec)
        mark(
            batch,
            f"select _source_file, _row_number, {reason} as reason "
            f"from {batch.rows()} where {condition}",
        )
    key = ", ".join(f'"{name}"' for name in spec.natural_key)
    rows, keys = execute(
        con,
        f"select count(*), count(distinct hash({key})) from {spec.table} where {batch.where}",
    ).fetchone()
    if rows == keys:
        return  # no two rows share a key (equal keys have equal hashes)
    repeated = f"select {key} from {batch.rows()} group by all having count(*) > 1"
    same = " and ".join(
        f'rows."{name}" is not distinct from repeated."{name}"' for name in spec.natural_key
    )
    mark(
        batch,
        f"""
        select _source_file, _row_number,
            'duplicate natural key ({", ".join(spec.natural_key)}) of an earlier row'
            as reason
        from (
            select rows._source_file, rows._row_number, row_number() over (
                partition by {", ".join(f'rows."{name}"' for name in spec.natural_key)}
                order by rows._source_file, rows._row_number
            ) as _rank
            from {batch.rows()} as rows
            semi join ({repeated}) as repeated on {same}
        ) where _rank > 1
        """,
    )


def reconcile(batch: Batch) -> None:
    """Nothing vanishes: each file's records as counted without DuckDB (its rows_read)
    must be the rows DuckDB returned plus the lines it rejected. DuckDB 2.0 skips a line
    of ~100 MB without a reject (one of 2-100 MB it rejects): a file whose counts differ
    is quarantined whole, with both counts, and nothing of it loads."""
    rejects = dict(
        execute(
            batch.con, "select _source_file, count(*) from _rejected_lines group by all"
        ).fetchall()
    )
    wrong = []
    for outcome in batch.staged:
        path = outcome.source
        returned = batch.rows_of(path) + rejects.get(path, 0)
        if returned != outcome.rows_read:
            outcome.status = "quarantined"
            outcome.reason = (
                f"DuckDB's reader returned {returned} of the {outcome.rows_read} records "
                "the file holds (it skips some malformed records, such as a line of many "
                "megabytes, without a word): quarantined whole, nothing of it loaded"
            )
            wrong.append(outcome)
    drop_files(batch, wrong, quarantined=True)


def count_rows(batch: Batch) -> None:
    """Rows read, loaded and quarantined per staged file: its rows in the table (counted
    by check_rows), those failed, and the lines DuckDB's reader rejected."""
    failed, rejects = {}, {}
    for path, bad, extra in execute(
        batch.con,
        """
        select _source_file, count(*) filter (where failed), count(*) filter (where not failed)
        from (
            select _source_file, true as failed from _failed
            union all select _source_file, false from _rejected_lines
        ) group by all
        """,
    ).fetchall():
        failed[path], rejects[path] = bad, extra
    for outcome in batch.staged:
        path = outcome.source
        total = batch.rows_of(path)
        bad, extra = failed.get(path, 0), rejects.get(path, 0)
        outcome.rows_read = total + extra
        outcome.rows_quarantined = bad + extra
        outcome.rows_loaded = total - bad
