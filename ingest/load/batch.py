"""The state of one feed's load, in one object every part of the load reads and writes.

A `Batch` is made per feed and call (loader.py) and holds what the parts hand each other:
the files in play and where each ended up, the per-file counts the row checks found, how
the rows are numbered, and whether DuckDB's rejects table is kept. What it cannot hold,
because the SQL reads it, is in temp tables of the load's connection, made here:

- `_batch_files`: the files read (landed name, path read, hash, partition, offset in its
  scan); read by every statement that tags rows with their file;
- `_failed`: rows in the feed's table that cannot load, each with its first reason
  (`mark`: checks.py, validation.py); they move to ingest.quarantined_rows at the end;
- `_rejected_lines`: records the reader rejected or that cannot be typed, which never
  reached the table (insert.py); quarantined with them.

The other temp tables are one part's scratch: `_rejects` and `_rejects_scan` (DuckDB's
reader, readers.py), `_text` and `_probe` (insert.py), `_skipped` (numbering.py),
`_to_validate` (validation.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

import duckdb

from ingest.catalog import FeedSpec
from ingest.load.outcomes import FileOutcome
from ingest.warehouse import execute, sql_string


class FileRows(NamedTuple):
    """A file's rows in the feed's table, as the row checks' one scan counted them."""

    rows: int
    nulls: int
    """Rows with a required column null."""
    low: str | None
    high: str | None
    """The first and last day of its rows (daily feeds)."""


@dataclass
class Batch:
    con: duckdb.DuckDBPyConnection
    spec: FeedSpec
    batch_id: str
    quarantine: Path
    quality: Path | None
    """Great Expectations' project directory; None loads without the expectation suites."""
    scans: int
    """Parallel scans the files are read in (numbering.py): one per DuckDB thread."""
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    """Tags this attempt's rows with batch_id (see `where`); each attempt takes a new one."""
    on_staged: Callable[[FileOutcome], None] | None = None
    """Called with each file once it is hashed, before anything else is done with it (a
    recording keeps a copy of it: orchestration/assets/ingest.py)."""
    discovered: list[FileOutcome] = field(default_factory=list)
    """Every landed file this load found, whatever becomes of it (its hash once read): what
    a recording names when the load raises (orchestration/assets/ingest.py)."""
    groups: dict[tuple[str, ...], list[FileOutcome]] = field(default_factory=dict)
    """The files to read, by the columns they are read under (headers.py)."""
    rejected: list[FileOutcome] = field(default_factory=list)
    """Files quarantined whole: unreadable, or failing as a whole."""
    duplicates: list[FileOutcome] = field(default_factory=list)
    """Files whose content is already loaded under another name."""
    deferred: list[FileOutcome] = field(default_factory=list)
    """Files that changed while they were hashed (candidates.py): the next load reads them."""
    keep_rejects: bool = False
    """Read CSV files with DuckDB's rejects table (insert.py: first without)."""
    staged: list[FileOutcome] = field(default_factory=list)
    """This attempt's files read into the table; those taken out leave it (drop_files)."""
    changed: list[FileOutcome] = field(default_factory=list)
    """This attempt's files whose bytes changed while DuckDB read them."""
    offsets: dict[str, int] = field(default_factory=dict)
    """CSV files numbered from their counted records: each one's offset in its scan."""
    file_rows: dict[str, FileRows] = field(default_factory=dict)
    """Per file of the attempt: its rows in the table (checks.py)."""
    insertion_order: bool | None = None
    """DuckDB's preserve_insertion_order while insert.py has it off."""

    @property
    def where(self) -> str:
        """This call's rows in the feed's table: the literal timestamp lets DuckDB skip the
        row groups of earlier loads by their min/max (the cost does not grow with history).
        Both values are flightline's own (a timestamp, a run id), quoted by sql_string."""
        return (
            f"_loaded_at = {sql_string(self.loaded_at.isoformat())}::timestamptz "
            f"and _batch_id = {sql_string(self.batch_id)}"
        )

    def rows(self) -> str:
        """This call's rows with their file's partition, not yet failed."""
        return f"""(
            select rows.*, files.partition_key as _file_partition
            from {self.spec.table} as rows join _batch_files as files using (_source_file)
            where {self.where}
                and not exists (
                    select 1 from _failed
                    where _failed._source_file = rows._source_file
                        and _failed._row_number = rows._row_number
                )
        )"""

    def rows_of(self, path: str) -> int:
        return self.file_rows[path].rows if path in self.file_rows else 0


def start_attempt(batch: Batch, offsets: dict[str, int]) -> None:
    """A fresh attempt at the batch's files (the load reads them again after a failed
    read): a new load time, empty `_failed` and `_rejected_lines`, and `_batch_files`
    with `offsets`."""
    con = batch.con
    batch.loaded_at = datetime.now(UTC)
    batch.changed = []
    batch.staged = [outcome for outcomes in batch.groups.values() for outcome in outcomes]
    batch.offsets = offsets
    staged = batch.staged
    execute(
        con,
        "create or replace temp table _batch_files as select "
        "unnest(?::varchar[]) as _source_file, unnest(?::varchar[]) as _read_path, "
        "unnest(?::varchar[]) as content_hash, unnest(?::varchar[]) as partition_key, "
        "unnest(?::bigint[]) as _offset",
        [
            [o.source for o in staged],
            [str(o.path) for o in staged],
            [o.content_hash for o in staged],
            [o.partition_key for o in staged],
            [offsets.get(o.source) for o in staged],
        ],
    )
    execute(
        con,
        "create or replace temp table _rejected_lines "
        "(_source_file varchar, _row_number bigint, reason varchar, raw varchar)",
    )
    execute(
        con,
        "create or replace temp table _failed "
        "(_source_file varchar, _row_number bigint, reason varchar)",
    )


def mark(batch: Batch, failed: str, params: list | None = None) -> None:
    """Give the rows `failed` selects (_source_file, _row_number, reason) their reason,
    unless they already have one."""
    execute(
        batch.con,
        f"""
        insert into _failed
        select failed._source_file, failed._row_number, failed.reason from ({failed}) as failed
        anti join _failed using (_source_file, _row_number)
        """,
        params or [],
    )


def drop_files(batch: Batch, outcomes: list[FileOutcome], quarantined: bool) -> None:
    """Take files out of this load, quarantined whole (into `rejected`; the file is kept
    in quarantine/) or left for the next load: their rows leave the table and the
    row-level quarantine."""
    if not outcomes:
        return
    paths = [outcome.source for outcome in outcomes]
    for table, where in (
        (batch.spec.table, f"{batch.where} and "),
        ("_failed", ""),
        ("_rejected_lines", ""),
    ):
        execute(
            batch.con,
            f"delete from {table} where {where}_source_file in (select unnest(?::varchar[]))",
            [paths],
        )
    for outcome in outcomes:
        outcome.rows_loaded, outcome.rows_quarantined = 0, outcome.rows_read
        batch.file_rows.pop(outcome.source, None)
        batch.staged.remove(outcome)
        if quarantined:
            batch.rejected.append(outcome)
