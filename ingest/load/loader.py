"""Exactly-once loading of landed feed files into ``raw.<feed>``, with quarantine.

Guarantees, per feed and call:
- a file whose content was already loaded (same SHA-256) is skipped;
- a changed file for a partition replaces that partition (reference feeds: the table);
- all files of a call land in one transaction: a crash leaves no partial rows;
- an unreadable file (empty, not UTF-8, missing columns, not parseable) moves to the
  quarantine directory with a ``.reason.txt`` beside it, and the other files keep loading;
- a row that fails a type or required-column check, is malformed, duplicates a natural key,
  or belongs to another day than its file is written to ``ingest.quarantined_rows``;
- with a quality directory, the rows that pass are validated against the feed's expectation
  suite (ingest/expectations.py): a row failing a critical expectation is quarantined with
  it as the reason, and a day failing a critical expectation as a whole (10% of its usual
  rows, half its readings null) has its file quarantined and keeps its previous load;
- ``ingest.file_log`` has one row per file seen, and rows_read = rows_loaded + rows_quarantined.

Files are read with DuckDB's own readers in one pass straight into ``raw.<feed>``: CSV
typed by the catalog with the reader's rejects table catching what does not fit (a bad value
is a quarantined row with its reason, not a failed load); JSON Lines and Parquet as text,
then cast. The rows are checked where they landed, inside the load's transaction (see
Loader); the benchmark is DuckDB's read_csv of the same files (BENCHMARKS.md).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from pathlib import Path

import duckdb

from ingest.catalog import FEEDS, FeedSpec
from ingest.load.batch import Batch, start_attempt
from ingest.load.books import write_file_log
from ingest.load.candidates import defer_changed, files_to_load, pending
from ingest.load.checks import check_rows, count_rows, reconcile
from ingest.load.headers import group_by_columns
from ingest.load.insert import (
    ReadAgainKeepingRejects,
    Unparseable,
    insert_groups,
    reject_unparseable,
    restore_insertion_order,
)
from ingest.load.numbering import counted_offsets
from ingest.load.outcomes import FileOutcome, IngestResult
from ingest.load.quarantine import hold_corrections, move_to_quarantine, quarantine_rows
from ingest.load.validation import USUAL_DAYS, validate
from ingest.quality import Validation
from ingest.tables import ensure_tables
from ingest.warehouse import execute, quote_name, restrict_file_access


def _after_rows_written() -> None:
    """Failpoint: runs inside the load transaction, after every row is written and before
    COMMIT. Tests replace it to crash a load half-way."""


class Loader:
    """Loads landed files of each feed into the warehouse through one DuckDB connection.

    One transaction per feed and call: the files' rows are inserted typed and tagged with
    the call (_batch_id, _loaded_at), then checked where they are (required columns, the
    file's day, duplicate keys, the expectation suite); the rows that fail move to
    ingest.quarantined_rows, the partitions the call replaces lose their previous rows, the
    file log is written, and only then the transaction commits. One pass over the files by
    DuckDB, no staging table: this is what keeps ingest near DuckDB's own read_csv
    (BENCHMARKS.md). Each file is hashed before DuckDB reads it and again after; one whose
    bytes changed in between is left for the next load (ingest/landing.py).

    A feed's load is a `Batch` (ingest/load/batch.py), the one state its parts share.
    The connection may touch files only in the landing directory and DuckDB's temp
    directory (ingest/warehouse.py, restrict_file_access).
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        landing: Path,
        quarantine: Path,
        batch_id: str | None = None,
        quality: Path | None = None,
        on_staged: Callable[[FileOutcome], None] | None = None,
    ) -> None:
        self.con = con
        self.on_staged = on_staged
        """Called with each file a load hashes (Batch.on_staged)."""
        self.landing = landing
        self.quarantine = quarantine
        self.batch_id = batch_id or uuid.uuid4().hex
        self.quality = quality
        """Great Expectations' project directory; None loads without the expectation suites."""
        self.discovered: list[FileOutcome] = []
        """The landed files the last load found (and what became of them so far), also
        when it raised."""
        self._scans = int(execute(con, "select current_setting('threads')").fetchone()[0])
        landing.mkdir(parents=True, exist_ok=True)
        # DuckDB reads landed files and nothing else: neither quarantine/ nor the warehouse's
        # folder (the analysts' snapshot) is within its reach.
        restrict_file_access(con, [landing])
        ensure_tables(con)

    def pending(self, spec: FeedSpec, partitions: set[str] | None = None) -> list[Path]:
        """Landed files whose content has not been logged for that path yet."""
        return pending(self.con, self.landing, spec, partitions)

    @staticmethod
    def reads(spec: FeedSpec, partitions: set[str] | None) -> list[tuple[str, str, list]]:
        """What a load of `spec` reads from the warehouse besides the landed files, as
        (relation, condition, parameters), for recording it (orchestration/debug.py replays
        the load on them): the feed's books, and of its raw table the days the load may
        replace and the USUAL_DAYS its usual day is judged against (a reference feed's
        table whole)."""
        books = [
            ("ingest.file_log", "feed = ?", [spec.name]),
            ("ingest.accepted_files", "feed = ?", [spec.name]),
        ]
        if not spec.is_daily or partitions is None:
            return [*books, (spec.table, "true", [])]
        part = f'"{spec.partition_column}"'
        days = (
            f"{part}::varchar in (select unnest(?::varchar[])) or {part} >= "
            f"(select max({part}) from {spec.table}) - interval {USUAL_DAYS} day"
        )
        return [*books, (spec.table, days, [sorted(partitions)])]

    def load(self, spec: FeedSpec, partitions: set[str] | None = None) -> IngestResult:
        started = time.perf_counter()
        result = self._load(spec, partitions)
        result.seconds = time.perf_counter() - started
        return result

    def _load(self, spec: FeedSpec, partitions: set[str] | None) -> IngestResult:
        batch = Batch(
            self.con,
            spec,
            self.batch_id,
            self.quarantine,
            self.quality,
            scans=self._scans,
            on_staged=self.on_staged,
        )
        self.discovered = batch.discovered
        found, skipped = files_to_load(batch, self.landing, partitions)
        group_by_columns(batch, found)
        for outcome in batch.rejected:
            outcome.rows_quarantined = outcome.rows_read
        while True:
            try:
                validation = _load_batch(batch)
                break
            except ReadAgainKeepingRejects:
                batch.keep_rejects = True
            except Unparseable as error:
                reject_unparseable(batch, error.group)
        outcomes = [
            *(o for o in batch.staged if o.status == "loaded"),
            *batch.rejected,
            *batch.duplicates,
            *batch.deferred,
            *batch.changed,
        ]
        for outcome in batch.rejected:
            move_to_quarantine(batch, outcome)
        return IngestResult(self.batch_id, outcomes, skipped, validation=validation)


def _load_batch(batch: Batch) -> Validation | None:
    """Insert, check, quarantine, replace and log in one transaction. The files read end
    in `batch.staged` (status loaded, or quarantined whole by the suite: then also in
    `batch.rejected`)."""
    con = batch.con
    start_attempt(batch, counted_offsets(batch))
    validation = None
    execute(con, "begin transaction")
    try:
        insert_groups(batch)
        if batch.staged:
            check_rows(batch)
            defer_changed(batch)
            reconcile(batch)
        if batch.staged:
            if batch.quality is not None:
                validation = validate(batch)
            count_rows(batch)
            hold_corrections(batch)
        quarantine_rows(batch)
        _replace_and_log(batch)
        _after_rows_written()
        execute(con, "commit")
    except BaseException:
        execute(con, "rollback")
        raise
    finally:
        restore_insertion_order(batch)
    return validation


def _replace_and_log(batch: Batch) -> None:
    """The rows the loaded files replace leave (a daily file replaces its day, a reference
    file its table), and the file log gets the files loaded, rejected and duplicated."""
    con, spec = batch.con, batch.spec
    loaded = [o for o in batch.staged if o.status == "loaded"]
    if loaded and spec.is_daily:
        execute(
            con,
            f"delete from {spec.table} where {quote_name(spec.partition_column)} "
            f"in (select unnest(?::date[])) and not ({batch.where})",
            [sorted({o.partition_key for o in loaded})],
        )
    elif loaded:
        execute(con, f"delete from {spec.table} where not ({batch.where})")
    write_file_log(con, batch.batch_id, spec, [*loaded, *batch.rejected, *batch.duplicates])


def ingest_all(
    con: duckdb.DuckDBPyConnection,
    landing: Path,
    quarantine: Path,
    feeds: tuple[FeedSpec, ...] = FEEDS,
    partitions: set[str] | None = None,
    batch_id: str | None = None,
    quality: Path | None = None,
) -> dict[str, IngestResult]:
    loader = Loader(con, landing, quarantine, batch_id, quality)
    return {spec.name: loader.load(spec, partitions) for spec in feeds}
