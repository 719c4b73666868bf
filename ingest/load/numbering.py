"""Each row's `_row_number`: its place among its file's records (1 = the first after a CSV
header, a quoted multi-line record counting once), in the file's order however big the file.

Why more than one way (each measured or forced by DuckDB, docs/facts.md):
- Parquet: the reader's own `file_row_number` (readers.text_select): exact and free.
- CSV and JSON Lines have no row-number column, and row_number() over (partition by
  filename) is not file order past ~2,000 rows (30% of a 30,000-row file's rows came back
  out of order, DuckDB 2.0). WITH ORDINALITY numbers a scan's rows in order but reads
  single-threaded, so the files are split into one scan per DuckDB thread, whose union runs
  in parallel (`ordinals`); a file's records are consecutive in its scan. From there:
  - by counts (`counted_offsets`, the usual CSV read): each file's records are counted
    while it is hashed (ingest/landing.py), so a record's number is its ordinal less the
    records of the files before it in its scan: no window over the rows, and since the rows
    carry their places, no insertion order to keep (insert.insert_counted). Measured
    against the window: a year of both CSV feeds 0.99 s -> 0.86 s (the ingest goal in
    BENCHMARKS.md, 72% -> 84% of read_csv with declared types), 10M flights' CSV feeds
    19.4 s -> 15.4 s and their peak memory 1.9 GB -> 0.9 GB.
  - by a window (`numbered`): the ordinal less its file's first ordinal, for the reads
    whose counts do not predict the scan: JSON Lines (a blank line is numbered but is not a
    record) and a CSV group read again keeping its rejects (a rejected record is not in the
    scan, so every file after it there would start early).
And two mends, both for what DuckDB's reader does:
- `renumber_around_rejects`: a rejected record is not in the scan, so each later record of
  its file was numbered one short per rejected record before it;
- `renumber_after_miscounts`: a count that was wrong (a quoted newline, a blank line the
  reader skips) moves the files after it in its scan; each moves back whole, and a file
  whose numbers are not consecutive was read out of order: raised, nothing written.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import duckdb

from ingest.load.batch import Batch
from ingest.warehouse import execute

Reader = Callable[[list[Path]], str]
"""Some files read as SQL (readers.csv_reader or readers.jsonl_reader, options bound)."""

T = TypeVar("T")


def scans(items: Sequence[T], count: int) -> list[list[T]]:
    """Files (or their outcomes) split into `count` parallel scans, in the same way for
    both, so an outcome's scan is its path's."""
    return [list(items[start::count]) for start in range(min(count, len(items)))]


def ordinals(reader: Reader, paths: list[Path], count: int) -> str:
    """The records of the files, each with _read_path (the path DuckDB read) and
    _ordinal: its place in its scan, where a file's records are consecutive and in file
    order."""
    return " union all ".join(
        f"select * rename (filename as _read_path, ordinality as _ordinal) "
        f"from {reader(scan)} with ordinality"
        for scan in scans(paths, count)
    )


def numbered(reader: Reader, paths: list[Path], count: int) -> str:
    """Every record a reader returns from the files, with _read_path and _row_number, by
    a window over every row: a file's first ordinal says where it starts."""
    return (
        "select * exclude (_ordinal), "
        "_ordinal - min(_ordinal) over (partition by _read_path) + 1 as _row_number "
        f"from ({ordinals(reader, paths, count)})"
    )


def counted_offsets(batch: Batch) -> dict[str, int]:
    """Each CSV file's offset in its scan from the records counted before the read, for a
    read without the rejects table (with it, rejected records leave the scan: `numbered`)."""
    offsets: dict[str, int] = {}
    if batch.spec.format != "csv" or batch.keep_rejects:
        return offsets
    for outcomes in batch.groups.values():
        for scan in scans(outcomes, batch.scans):
            start = 0
            for outcome in scan:
                offsets[outcome.source] = start
                start += outcome.staged.records
    return offsets


def renumber_around_rejects(con: duckdb.DuckDBPyConnection, table: str, where: str) -> None:
    """Number the records read around the rejected ones (`_skipped`: their files and
    numbers): `table`'s rows that `where` selects move up one per rejected record before
    them in their file."""
    execute(
        con,
        """
        create or replace temp table _skipped as
        select _source_file,
            _row_number - row_number() over (
                partition by _source_file order by _row_number
            ) as _read_before
        from _skipped
        """,
    )
    # A record numbered n by the scan is preceded by each rejected record that had fewer
    # than n records read before it.
    execute(
        con,
        f"""
        update {table} as rows set _row_number = rows._row_number + (
            select count(*) from _skipped
            where _skipped._source_file = rows._source_file
                and _skipped._read_before < rows._row_number
        )
        where {where} and rows._source_file in (select _source_file from _skipped)
        """,
    )


def renumber_after_miscounts(batch: Batch, stats: list[tuple]) -> None:
    """Files numbered from predicted counts after a file whose count was wrong in the same
    scan start past 1: a file's records have consecutive ordinals in its scan, so each such
    file moves back whole. A file whose numbers are not consecutive was read out of order:
    that is DuckDB's bug, raised, not loaded. `stats`: per file, as checks.check_rows
    scanned them (path, rows, ..., first and last number)."""
    numbered_files = {path: (rows, first, last) for path, rows, *_, first, last in stats}
    shifts = {
        path: first - 1
        for path, (_, first, _) in numbered_files.items()
        if path in batch.offsets and first != 1
    }
    if shifts:
        execute(
            batch.con,
            f"""
            update {batch.spec.table} as rows set _row_number = rows._row_number - shifts.by
            from (select unnest(?::varchar[]) as _source_file, unnest(?::bigint[]) as by)
                as shifts
            where {batch.where} and rows._source_file = shifts._source_file
            """,
            [list(shifts), list(shifts.values())],
        )
    for path, (rows, first, last) in numbered_files.items():
        if path in batch.offsets and last - first + 1 != rows:
            raise RuntimeError(
                f"{path}: DuckDB read its {rows} records out of order (ordinals "
                f"{first}..{last} in its scan); nothing of this load was written"
            )
