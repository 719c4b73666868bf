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

import csv
import re
import shutil
import statistics
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from ingest.catalog import FEEDS, FeedSpec
from ingest.landing import (
    FileChanged,
    FileRejected,
    Staged,
    digest_of,
    discover,
    partition_of,
    source_name,
    stage,
)
from ingest.quality import Validation
from ingest.tables import ensure_tables
from ingest.warehouse import (
    execute,
    quote_name,
    restrict_file_access,
    sql_paths,
    sql_string,
)

# Unit separator: never appears in a JSON Lines record, so each line reads as one text column.
JSONL_DELIMITER = "\x1f"
# A file name kept in quarantine/ is `<12 hex of its hash>-<name>`; names are cut to fit the
# file system's 255 bytes with `.reason.txt` after them.
_QUARANTINE_NAME_BYTES = 200


@dataclass
class FileOutcome:
    feed: str
    path: Path
    content_hash: str
    partition_key: str | None
    status: str  # loaded | quarantined | duplicate
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    staged: Staged | None = field(default=None, repr=False)
    """The file as read (ingest/landing.py): None when it could not be read at all."""
    is_correction: bool = False
    """A new version of a day (or reference table) already loaded, not accepted by hand."""
    source: str = ""
    """The file as the warehouse records it (source_file, _source_file): landing/'s
    relative path (ingest/landing.source_name)."""


# The content hash logged for a file that could not be read (a link, not a regular file).
UNREAD = "unread"


@dataclass
class IngestResult:
    batch_id: str
    outcomes: list[FileOutcome] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    validation: Validation | None = None
    """The expectation suite's verdicts on what this call loaded (None: not validated)."""

    def _sum(self, attribute: str) -> int:
        return sum(getattr(outcome, attribute) for outcome in self.outcomes)

    @property
    def rows_read(self) -> int:
        return self._sum("rows_read")

    @property
    def rows_loaded(self) -> int:
        return self._sum("rows_loaded")

    @property
    def rows_quarantined(self) -> int:
        return self._sum("rows_quarantined")

    @property
    def files_quarantined(self) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "quarantined"]

    @property
    def partitions(self) -> list[str]:
        return sorted({outcome.partition_key for outcome in self.outcomes if outcome.partition_key})

    def merge(self, other: IngestResult) -> None:
        self.outcomes.extend(other.outcomes)
        self.skipped += other.skipped
        self.seconds += other.seconds


def _after_rows_written() -> None:
    """Failpoint: runs inside the load transaction, after every row is written and before
    COMMIT. Tests replace it to crash a load half-way."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _header_columns(first: bytes) -> list[str]:
    """The column names of a CSV file's header, read in Python (never by DuckDB, never into
    SQL: see _declared_columns)."""
    try:
        header = first.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRejected(f"header is not UTF-8 text: {error}") from error
    header = header.removesuffix("\n").removesuffix("\r")
    if '"' in header:
        # No catalogue name needs quoting; a quote in a header line makes DuckDB's reader
        # and any other read the file differently (an unclosed one swallows every record).
        raise FileRejected("the header holds a quote character; feed headers are plain names")
    if _CONTROL.search(header):
        # A carriage return or NUL inside the header line: readers disagree where it ends.
        raise FileRejected("the header holds a control character; feed headers are plain names")
    columns = next(csv.reader([header]), [])
    return [column.strip() for column in columns]


def _declared_columns(spec: FeedSpec, columns: list[str]) -> tuple[str, ...]:
    """The names DuckDB reads a CSV file's columns under, by position: the catalogue's own
    name where the header names a catalogue column, `_extra_<n>` for any other. The header's
    text never reaches SQL, not even quoted; a catalogue column named twice is refused."""
    expected = set(spec.column_names)
    seen: set[str] = set()
    declared = []
    for position, name in enumerate(columns, start=1):
        if name in expected:
            if name in seen:
                raise FileRejected(f"column {name} appears twice in the header")
            seen.add(name)
            declared.append(name)
        else:
            declared.append(f"_extra_{position}")
    return tuple(declared)


def _shown(names: list[str]) -> str:
    """Column names from a file, for a reason a person reads: printable, and short."""
    text = ", ".join(ascii(name)[1:-1][:40] for name in names[:10])
    return text + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def _file_columns(
    con: duckdb.DuckDBPyConnection, spec: FeedSpec, path: Path, staged: Staged
) -> list[str]:
    """The columns a file carries, read cheaply (its first line, see ingest/landing.py);
    raises FileRejected if it cannot be read. Compared with the catalogue in Python only."""
    if not staged.first_line:
        raise FileRejected("file is empty")
    if spec.format == "csv":
        return _header_columns(staged.first_line)
    if spec.format == "jsonl":
        try:
            rows = execute(
                con,
                f"""
                select distinct unnest(json_keys(object)) from (
                    select {_JSON_OBJECT} as object from {_jsonl_reader([path])}
                ) where object is not null
                """,
            ).fetchall()
        except duckdb.Error as error:
            raise FileRejected(f"cannot be parsed as jsonl: {_first_line(error)}") from error
        finally:
            _clear_rejects(con)
        if not rows:
            raise FileRejected("no line of the file is a JSON object")
        return [row[0] for row in rows]
    try:
        described = execute(
            con, f"describe select * from read_parquet({sql_paths([path])})"
        ).fetchall()
    except duckdb.Error as error:
        raise FileRejected(f"not a readable Parquet file: {error}") from error
    return [row[0] for row in described]


def _jsonl_keys(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> dict[str, list[str]]:
    """The keys of every JSON Lines file (by the path read) in one scan (one query per file
    cost ~50 ms each, 20 s for a year of a daily feed). Files it cannot settle (empty,
    unreadable, no object: absent from the result) are read one by one by _file_columns,
    which says why."""
    readable = [p for p in paths if p.stat().st_size > 0]
    if not readable:
        return {}
    try:
        rows = execute(
            con,
            f"""
            select filename, list(distinct key) from (
                select filename, unnest(json_keys(object)) as key from (
                    select filename, {_JSON_OBJECT} as object from {_jsonl_reader(readable)}
                ) where object is not null
            ) group by filename
            """,
        ).fetchall()
    except duckdb.Error:
        return {}  # each file read alone by _file_columns, which says which one and why
    finally:
        # Start the stage's own scans with empty reject tables (see _stage_files).
        _clear_rejects(con)
    return {path: keys for path, keys in rows}


# The line when it is a JSON object, else null. CASE evaluates per row, where AND does not
# short-circuit in DuckDB's vectorised execution: json_type() on a malformed line raises.
_JSON_OBJECT = (
    "case when json_valid(line) then case when json_type(line) = 'OBJECT' then line end end"
)


def _jsonl_reader(paths: list[Path]) -> str:
    return (
        f"read_csv({sql_paths(paths)}, columns={{'line': 'VARCHAR'}}, "
        f"header=false, delim='{JSONL_DELIMITER}', quote='', escape='', filename=true, "
        "auto_detect=false, store_rejects=true, rejects_table='_rejects', "
        "rejects_scan='_rejects_scan')"
    )


def _scans(paths: list[Path], scans: int) -> list[list[Path]]:
    """Files split into parallel scans (see _numbered)."""
    return [paths[start::scans] for start in range(min(scans, len(paths)))]


def _ordinals(reader: Callable[[list[Path]], str], paths: list[Path], scans: int) -> str:
    """The records of the files, each with _read_path (the path DuckDB read) and
    _ordinal: its place in its scan (_scans), where a file's records are consecutive and in
    file order."""
    return " union all ".join(
        f"select * rename (filename as _read_path, ordinality as _ordinal) "
        f"from {reader(scan)} with ordinality"
        for scan in _scans(paths, scans)
    )


def _numbered(reader: Callable[[list[Path]], str], paths: list[Path], scans: int) -> str:
    """Every record a reader returns from the files, with _read_path and _row_number: the
    record's place among its file's records (1 = the first after a CSV header).

    DuckDB's CSV reader has no row-number column, and row_number() over (partition by
    filename) is not file order: past ~2,000 rows a file's rows come back out of order
    (DuckDB 2.0; 30% of the rows of 30,000-row files). WITH ORDINALITY numbers a scan's
    rows in order but reads single-threaded, so the files are split into `scans` scans, one
    per DuckDB thread, whose union runs in parallel (_ordinals); a file's first ordinal says
    where it starts. When each file's count is known before the read, Loader._insert
    subtracts offsets instead of this window over every row."""
    return (
        "select * exclude (_ordinal), "
        "_ordinal - min(_ordinal) over (partition by _read_path) + 1 as _row_number "
        f"from ({_ordinals(reader, paths, scans)})"
    )


def _text_select(spec: FeedSpec, paths: list[Path], scans: int = 1) -> str:
    """SQL selecting every record of JSON Lines or Parquet files as text: the spec's columns,
    _source_file (the landed file, through _batch_files), _row_number (see _numbered),
    _is_object and, for JSON Lines, _raw (the line). CSV files are read typed instead
    (Loader._insert)."""
    names = spec.column_names
    if spec.format == "jsonl":
        fields = ", ".join(
            f"case when _is_object then json_extract_string(line, "
            f"{sql_string('$.' + quote_name(name))}) end as {quote_name(name)}"
            for name in names
        )
        read = (
            f"select {fields}, _read_path, _row_number, line as _raw, _is_object from ("
            f"select *, {_JSON_OBJECT} is not null as _is_object "
            # A blank line reads as a null line: not a record (as JSON Lines readers skip
            # it, and as ingest/landing.py counts), numbered all the same.
            f"from ({_numbered(_jsonl_reader, paths, scans)}) where line is not null)"
        )
    else:
        fields = ", ".join(
            f"cast({quote_name(name)} as varchar) as {quote_name(name)}" for name in names
        )
        read = (
            f"select {fields}, filename as _read_path, file_row_number + 1 as _row_number, "
            f"true as _is_object from read_parquet({sql_paths(paths)}, "
            "filename=true, union_by_name=true, file_row_number=true)"
        )
    return (
        "select text.* exclude (_read_path), files._source_file "
        f"from ({read}) as text join _batch_files as files using (_read_path)"
    )


def _record_json(spec: FeedSpec) -> str:
    """A record as JSON text, what ingest.quarantined_rows keeps of a rejected row (a JSON
    Lines row rejected before it was typed keeps its line). Computed only for the rows
    quarantined: serialising every row of a year cost more than reading it."""
    fields = ", ".join(f'"{n}" := "{n}"' for n in spec.column_names)
    return f"to_json(struct_pack({fields}))::varchar"


def _type_reason_sql(spec: FeedSpec) -> str:
    """Why a record read as text cannot be typed (null: it can)."""
    checks = []
    if spec.format == "jsonl":
        checks.append("case when not _is_object then 'line is not a JSON object' end")
    for column in spec.columns:
        name = f'"{column.name}"'
        checks.append(
            f"case when {name} is not null and try_cast({name} as {column.type}) is null "
            f"then '{column.name}: ''' || left({name}, 40) || ''' is not a valid "
            f"{column.type}' end"
        )
    return "nullif(concat_ws('; ', " + ", ".join(checks) + "), '')"


def _row_checks(spec: FeedSpec) -> tuple[str, str]:
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


def _csv_reader(
    paths: list[Path], columns: tuple[str, ...], spec: FeedSpec, rejects: bool = True
) -> str:
    """DuckDB's CSV reader with the file's columns by position (_declared_columns: the
    catalogue's names and `_extra_<n>`, never the header's text) and the catalogue's types,
    no sniffing: with `rejects`, a value that is not of its column's type, a short or long
    line, bad UTF-8 go to the rejects table (see _reader_rejects) and the rest is read in one
    typed pass; without, the first such line fails the read. Sniffing each file cost twice
    the read itself (~2 s of ~3 s for the 2013 year's two CSV feeds)."""
    types = {column.name: column.type for column in spec.columns}
    declared = ", ".join(
        f"{sql_string(name)}: {sql_string(types.get(name, 'VARCHAR'))}" for name in columns
    )
    kept = ", store_rejects=true, rejects_table='_rejects', rejects_scan='_rejects_scan'"
    return (
        f"read_csv({sql_paths(paths)}, header=true, auto_detect=false, "
        f"columns={{{declared}}}, filename=true, delim=',', quote='\"', escape='\"'"
        f"{kept if rejects else ''})"
    )


def _reader_rejects(spec: FeedSpec) -> str:
    """The lines DuckDB's CSV reader rejected (a CSV or JSON Lines scan), one row per line
    (a line can have several errors), with the landed file they came from: a value of the
    wrong type reads like the text path's reason ("dep_delay: 'late' is not a valid
    SMALLINT"), anything else as DuckDB says it. Every line has a reason: DuckDB records a
    line over its maximum line size (2 MB) with no column and no text of the line."""
    types = " ".join(f"when {sql_string(c.name)} then {sql_string(c.type)}" for c in spec.columns)
    cast = (
        "errors.column_name || ': ''' || left(regexp_extract(errors.error_message, "
        "'Could not convert string \"(.*)\" to', 1), 40) || ''' is not a valid ' || "
        f"case errors.column_name {types} end"
    )
    other = "errors.error_type || ': ' || coalesce(errors.error_message, 'no message')"
    # DuckDB counts a CSV header as the first line, and a quoted multi-line record as one.
    # It also counts the blank lines its reader skips: in a file with both, a rejected
    # record after a blank line, and the records near it, are numbered one off per blank
    # line before it (not mended: where the blank lines are is not known without parsing
    # the file's quoting again).
    header = int(spec.format == "csv")
    return f"""
        select files._source_file, errors.line - {header} as _row_number,
            coalesce(
                arg_min({other}, coalesce(errors.column_idx, -1))
                    filter (where errors.error_type <> 'CAST'),
                string_agg({cast}, '; ' order by errors.column_idx),
                'the reader rejected the line: ' || any_value(errors.error_type)
            ) as reason,
            any_value(errors.csv_line) as raw
        from _rejects as errors join _rejects_scan as scans using (scan_id, file_id)
        join _batch_files as files on files._read_path = scans.file_path
        group by files._source_file, errors.line
    """


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _clear_rejects(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB appends every scan's rejects to the same tables: start each scan empty, or a
    second scan in this connection would count the first one's rejects again."""
    execute(con, "drop table if exists _rejects")
    execute(con, "drop table if exists _rejects_scan")


class _ReadAgainKeepingRejects(Exception):
    """A CSV file of the batch has a line the reader could not type (the transaction is
    lost with it): read the batch again with the rejects table on."""


class _Unparseable(Exception):
    """A group of files DuckDB could not read (the transaction is lost with it)."""

    def __init__(self, group: tuple[str, ...]) -> None:
        super().__init__(group)
        self.group = group


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
    ) -> None:
        self.con = con
        self.landing = landing
        self.quarantine = quarantine
        self.batch_id = batch_id or uuid.uuid4().hex
        self.quality = quality
        """Great Expectations' project directory; None loads without the expectation suites."""
        self._loaded_at = datetime.now(UTC)
        self._files: dict[str, tuple] = {}
        """Per file of the batch being loaded: rows, nulls in required columns, first and
        last day (set by _check)."""
        self._keep_rejects = True
        """Read CSV files with DuckDB's rejects table (load() starts each feed without)."""
        self._scans = int(execute(con, "select current_setting('threads')").fetchone()[0])
        """Parallel scans a load's files are read in (see _numbered)."""
        self._offsets: dict[str, int] = {}
        """CSV files numbered from their counted records (_insert_counted): each one's
        offset in its scan."""
        self._insertion_order: bool | None = None
        """DuckDB's preserve_insertion_order while _insert_counted has it off."""
        self._deferred: list[FileOutcome] = []
        """Files of the batch that changed while they were read (_unchanged_since_hashed)."""
        landing.mkdir(parents=True, exist_ok=True)
        # DuckDB reads landed files and nothing else: neither quarantine/ nor the warehouse's
        # folder (the analysts' snapshot) is within its reach.
        restrict_file_access(con, [landing])
        ensure_tables(con)

    def _logged(self, spec: FeedSpec) -> tuple[set[tuple[str, str]], list[tuple], set[str]]:
        """(path, hash) pairs already settled (loaded, duplicate, or quarantined and not
        accepted since), the feed's file log rows (path, hash, status, partition), and the
        hashes an operator accepted."""
        logged = execute(
            self.con,
            "select source_file, content_hash, status, partition_key from ingest.file_log "
            "where feed = ?",
            [spec.name],
        ).fetchall()
        accepted = self._accepted(spec)
        seen = {
            (path, digest)
            for path, digest, status, _ in logged
            if not (status == "quarantined" and digest in accepted)
        }
        return seen, logged, accepted

    def _accepted(self, spec: FeedSpec) -> set[str]:
        return {
            digest
            for (digest,) in execute(
                self.con,
                "select content_hash from ingest.accepted_files where feed = ?",
                [spec.name],
            ).fetchall()
        }

    def pending(self, spec: FeedSpec, partitions: set[str] | None = None) -> list[Path]:
        """Landed files whose content has not been logged for that path yet (a file that
        cannot be read is pending: the next load quarantines it with its reason)."""
        seen, _, _ = self._logged(spec)
        pending = []
        for path in discover(self.landing, spec, partitions):
            try:
                digest = digest_of(path)  # the hash alone: no record count needed here
            except OSError:  # a link, or gone: the next load says which
                digest = None
            if (source_name(path, self.landing), digest) not in seen:
                pending.append(path)
        return pending

    def load(self, spec: FeedSpec, partitions: set[str] | None = None) -> IngestResult:
        started = time.perf_counter()
        result = self._load(spec, partitions)
        result.seconds = time.perf_counter() - started
        return result

    def _load(self, spec: FeedSpec, partitions: set[str] | None) -> IngestResult:
        result = IngestResult(batch_id=self.batch_id)
        seen_pairs, logged, accepted = self._logged(spec)
        loaded_hashes = {digest for _, digest, status, _ in logged if status == "loaded"}
        loaded_days = {key for *_, status, key in logged if status == "loaded"}

        candidates: list[FileOutcome] = []
        rejected: list[FileOutcome] = []
        batch_hashes: set[str] = set()
        deferred: list[FileOutcome] = []
        for path in discover(self.landing, spec, partitions):
            outcome = FileOutcome(
                spec.name, path, UNREAD, None, "loaded", source=source_name(path, self.landing)
            )
            try:
                staged = stage(path, spec)
            except FileChanged as error:
                outcome.status, outcome.reason = "deferred", str(error)
                deferred.append(outcome)
                continue
            except FileRejected as error:
                outcome.status, outcome.reason = "quarantined", str(error)
                rejected.append(outcome)
                continue
            outcome.content_hash, outcome.staged = staged.digest, staged
            outcome.rows_read = staged.records
            if (outcome.source, staged.digest) in seen_pairs:
                result.skipped += 1
                continue
            try:
                outcome.partition_key = partition_of(spec, path)
            except FileRejected as error:
                outcome.status, outcome.reason = "quarantined", str(error)
                rejected.append(outcome)
                continue
            if staged.digest in loaded_hashes or staged.digest in batch_hashes:
                outcome.rows_read = 0  # its rows are loaded, under the earlier file
                outcome.status = "duplicate"
                outcome.reason = "same content as a file already loaded; not loaded again"
                result.outcomes.append(outcome)
                continue
            outcome.is_correction = (
                outcome.partition_key in loaded_days and staged.digest not in accepted
            )
            batch_hashes.add(staged.digest)
            candidates.append(outcome)

        groups: dict[tuple[str, ...], list[FileOutcome]] = defaultdict(list)
        expected = spec.column_names
        keys = {}
        if spec.format == "jsonl":
            keys = _jsonl_keys(self.con, [o.path for o in candidates])
        for outcome in candidates:
            try:
                columns = keys.get(str(outcome.path)) or _file_columns(
                    self.con, spec, outcome.path, outcome.staged
                )
                missing = [name for name in expected if name not in columns]
                if missing:
                    raise FileRejected(
                        f"missing column(s) {', '.join(missing)}; expected {', '.join(expected)}"
                    )
                key = _declared_columns(spec, columns) if spec.format == "csv" else ()
            except FileRejected as error:
                outcome.status, outcome.reason = "quarantined", str(error)
                rejected.append(outcome)
                continue
            extra = [name for name in columns if name not in expected]
            if extra:
                outcome.reason = f"extra column(s) ignored: {_shown(extra)}"
            groups[key].append(outcome)

        for outcome in rejected:
            outcome.rows_quarantined = outcome.rows_read
        duplicates = [o for o in result.outcomes if o.status == "duplicate"]
        self._keep_rejects = False
        while True:
            try:
                staged, result.validation = self._load_batch(spec, groups, rejected, duplicates)
                break
            except _ReadAgainKeepingRejects:
                self._keep_rejects = True
            except _Unparseable as error:
                self._reject_unparseable(spec, groups, error.group, rejected)
        deferred += self._deferred
        result.outcomes = [
            *(o for o in staged if o.status == "loaded"),
            *rejected,
            *duplicates,
            *deferred,
        ]
        for outcome in rejected:
            self._move_to_quarantine(spec, outcome)
        return result

    @property
    def _batch(self) -> str:
        """This call's rows in the feed's table: the literal timestamp lets DuckDB skip the
        row groups of earlier loads by their min/max (the cost does not grow with history).
        Both values are flightline's own (a timestamp, a run id), quoted by sql_string."""
        return (
            f"_loaded_at = {sql_string(self._loaded_at.isoformat())}::timestamptz "
            f"and _batch_id = {sql_string(self.batch_id)}"
        )

    def _load_batch(
        self,
        spec: FeedSpec,
        groups: dict[tuple[str, ...], list[FileOutcome]],
        rejected: list[FileOutcome],
        duplicates: list[FileOutcome],
    ) -> tuple[list[FileOutcome], Validation | None]:
        """Insert, check, quarantine, replace and log in one transaction. Returns the files
        read (status loaded, or quarantined whole by the suite: then also in `rejected`)."""
        con = self.con
        self._loaded_at = datetime.now(UTC)
        self._deferred = []
        staged = [outcome for outcomes in groups.values() for outcome in outcomes]
        self._offsets = {}
        if spec.format == "csv" and not self._keep_rejects:
            for outcomes in groups.values():
                for scan in _scans(outcomes, self._scans):
                    start = 0
                    for outcome in scan:
                        self._offsets[outcome.source] = start
                        start += outcome.staged.records
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
                [self._offsets.get(o.source) for o in staged],
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
        validation = None
        execute(con, "begin transaction")
        try:
            for group, outcomes in groups.items():
                try:
                    self._insert(spec, group, outcomes)
                except duckdb.Error as error:
                    if not self._keep_rejects:
                        raise _ReadAgainKeepingRejects from error
                    raise _Unparseable(group) from error
            if staged:
                self._check(spec, staged)
                self._unchanged_since_hashed(spec, staged)
                self._reconcile(spec, staged, rejected)
            if staged:
                if self.quality is not None:
                    validation = self._validate(spec, staged, rejected)
                self._count(staged)
                self._hold_corrections(spec, staged, rejected)
            self._settle(spec, staged, rejected, duplicates)
            _after_rows_written()
            execute(con, "commit")
        except BaseException:
            execute(con, "rollback")
            raise
        finally:
            self._restore_insertion_order()
        return staged, validation

    def _insert(self, spec: FeedSpec, group: tuple[str, ...], outcomes: list[FileOutcome]) -> None:
        """Read files into the feed's table, typed and tagged with this call; what cannot be
        typed goes to _rejected_lines.

        CSV files are first read without DuckDB's rejects table (keeping it costs ~20% of
        the read: 0.12 s of 0.57 s for a year of schedules): a line that does not fit then
        fails the read, and load() reads the batch again keeping the rejects."""
        con = self.con
        paths = [outcome.path for outcome in outcomes]
        names = ", ".join(quote_name(name) for name in spec.column_names)
        target = (
            f"insert into {spec.table} ({names}, _source_file, _content_hash, _row_number, "
            "_loaded_at, _batch_id)"
        )
        params = [self._loaded_at, self.batch_id]
        _clear_rejects(con)
        if spec.format == "csv":

            def reader(files: list[Path]) -> str:
                return _csv_reader(files, group, spec, rejects=self._keep_rejects)

            if all(outcome.source in self._offsets for outcome in outcomes):
                self._insert_counted(target, names, reader, paths, params)
                return
            execute(
                con,
                f"""
                {target}
                select {names}, files._source_file, files.content_hash, _row_number,
                    ?::timestamptz, ?
                from ({_numbered(reader, paths, self._scans)})
                join _batch_files as files using (_read_path)
                """,
                params,
            )
            if self._keep_rejects:
                self._take_reader_rejects(spec, spec.table, self._batch)
            return
        execute(
            con, f"create or replace temp table _text as {_text_select(spec, paths, self._scans)}"
        )
        if spec.format == "jsonl":
            self._take_reader_rejects(spec, "_text", "true")
        casts = ", ".join(f"cast({quote_name(c.name)} as {c.type})" for c in spec.columns)
        execute(
            con,
            f"""
            {target}
            select {casts}, _source_file, files.content_hash, _row_number, ?::timestamptz, ?
            from _text join _batch_files as files using (_source_file)
            where {_type_reason_sql(spec)} is null
            """,
            params,
        )
        raw = "_raw" if spec.format == "jsonl" else _record_json(spec)
        execute(
            con,
            f"""
            insert into _rejected_lines
            select _source_file, _row_number, reason, {raw} from (
                select *, {_type_reason_sql(spec)} as reason from _text
            ) where reason is not null
            """,
        )

    def _insert_counted(
        self,
        target: str,
        names: str,
        reader: Callable[[list[Path]], str],
        paths: list[Path],
        params: list,
    ) -> None:
        """CSV files whose record counts are known (_offsets): a record's number is its
        ordinal in its scan less its file's offset there, with no window over the rows, and
        the rows, which carry their places, are written in any order (DuckDB's
        preserve_insertion_order, on by default, makes a parallel read keep the order of
        its output). A year of both CSV feeds: 0.72 s against 0.83 s numbered by the window,
        and 0.77 s for read_csv into a table. _check mends the files after a wrong count.

        The setting is restored after the insert, or by _load_batch after the rollback when
        the read failed (an aborted transaction refuses the SET)."""
        con = self.con
        self._insertion_order = execute(
            con, "select current_setting('preserve_insertion_order')"
        ).fetchone()[0]
        execute(con, "set preserve_insertion_order = false")
        execute(
            con,
            f"""
            {target}
            select {names}, files._source_file, files.content_hash,
                _ordinal - files._offset, ?::timestamptz, ?
            from ({_ordinals(reader, paths, self._scans)})
            join _batch_files as files using (_read_path)
            """,
            params,
        )
        self._restore_insertion_order()

    def _restore_insertion_order(self) -> None:
        if self._insertion_order is not None:
            execute(self.con, f"set preserve_insertion_order = {self._insertion_order}")
            self._insertion_order = None

    def _take_reader_rejects(self, spec: FeedSpec, table: str, where: str) -> None:
        """Move the records DuckDB's reader rejected in this scan to _rejected_lines, and
        number the records read around them (`table`'s rows that `where` selects): a
        rejected record is not in the scan, so each later record of its file was numbered
        one short per rejected record before it (see _numbered)."""
        con = self.con
        execute(con, f"create or replace temp table _skipped as {_reader_rejects(spec)}")
        execute(con, "insert into _rejected_lines select * from _skipped")
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

    def _reject_unparseable(
        self,
        spec: FeedSpec,
        groups: dict[tuple[str, ...], list[FileOutcome]],
        group: tuple[str, ...],
        rejected: list[FileOutcome],
    ) -> None:
        """Find the file(s) of a group DuckDB cannot read, each read alone outside any
        transaction, and reject them; the load then starts again without them."""
        unreadable = []
        for outcome in groups[group]:
            source = (
                f"select * from {_csv_reader([outcome.path], group, spec)}"
                if spec.format == "csv"
                else _text_select(spec, [outcome.path])
            )
            try:
                _clear_rejects(self.con)
                # Materialised, not counted: count(*) reads no column, so no bad page.
                execute(self.con, f"create or replace temp table _probe as {source}")
                execute(self.con, "drop table _probe")
            except duckdb.Error as error:
                outcome.status = "quarantined"
                outcome.reason = f"cannot be parsed as {spec.format}: {_first_line(error)}"
                outcome.rows_quarantined = outcome.rows_read
                unreadable.append(outcome)
        if not unreadable:
            raise RuntimeError(
                f"{spec.name}: DuckDB could not read files together that it reads one by one"
            )
        rejected.extend(unreadable)
        groups[group] = [o for o in groups[group] if o not in unreadable]
        if not groups[group]:
            del groups[group]

    def _batch_rows(self, spec: FeedSpec) -> str:
        """This call's rows with their file's partition, not yet failed."""
        return f"""(
            select rows.*, files.partition_key as _file_partition
            from {spec.table} as rows join _batch_files as files using (_source_file)
            where {self._batch}
                and not exists (
                    select 1 from _failed
                    where _failed._source_file = rows._source_file
                        and _failed._row_number = rows._row_number
                )
        )"""

    def _check(self, spec: FeedSpec, staged: list[FileOutcome]) -> None:
        """Rows that are typed but cannot load (_row_checks), then duplicates of a natural
        key among the rest (the first in file order loads), into _failed.

        The usual batch has none: one scan of the batch's rows says so (per file: its rows,
        nulls in required columns, the range of its days; over the batch: distinct key
        hashes), and the row-by-row marking runs only when it found something."""
        con = self.con
        required = " or ".join(f'"{c.name}" is null' for c in spec.columns if c.required)
        part = f'"{spec.partition_column}"' if spec.is_daily else "null"
        stats = execute(
            con,
            f"""
            select _source_file, count(*), count(*) filter (where {required or "false"}),
                min({part})::varchar, max({part})::varchar, min(_row_number), max(_row_number)
            from {spec.table} where {self._batch} group by all
            """,
        ).fetchall()
        self._files = {path: (rows, nulls, low, high) for path, rows, nulls, low, high, *_ in stats}
        self._renumber_after_miscounts(spec, stats)
        partitions = {outcome.source: outcome.partition_key for outcome in staged}
        if any(
            nulls or (partitions[path] is not None and not low == high == partitions[path])
            for path, (_, nulls, low, high) in self._files.items()
        ):
            condition, reason = _row_checks(spec)
            self._mark(
                f"select _source_file, _row_number, {reason} as reason "
                f"from {self._batch_rows(spec)} where {condition}"
            )
        key = ", ".join(f'"{name}"' for name in spec.natural_key)
        rows, keys = execute(
            con,
            f"select count(*), count(distinct hash({key})) from {spec.table} where {self._batch}",
        ).fetchone()
        if rows == keys:
            return  # no two rows share a key (equal keys have equal hashes)
        repeated = f"select {key} from {self._batch_rows(spec)} group by all having count(*) > 1"
        same = " and ".join(
            f'rows."{name}" is not distinct from repeated."{name}"' for name in spec.natural_key
        )
        self._mark(
            f"""
            select _source_file, _row_number,
                'duplicate natural key ({", ".join(spec.natural_key)}) of an earlier row'
                as reason
            from (
                select rows._source_file, rows._row_number, row_number() over (
                    partition by {", ".join(f'rows."{name}"' for name in spec.natural_key)}
                    order by rows._source_file, rows._row_number
                ) as _rank
                from {self._batch_rows(spec)} as rows
                semi join ({repeated}) as repeated on {same}
            ) where _rank > 1
            """
        )

    def _renumber_after_miscounts(self, spec: FeedSpec, stats: list[tuple]) -> None:
        """Files numbered from predicted counts (_insert_counted) after a file whose count
        was wrong (a quoted newline, a blank line) in the same scan start past 1: a file's
        records have consecutive ordinals in its scan, so each such file moves back whole.
        A file whose numbers are not consecutive was read out of order: that is DuckDB's
        bug, raised, not loaded."""
        numbered = {path: (rows, first, last) for path, rows, *_, first, last in stats}
        shifts = {
            path: first - 1
            for path, (_, first, _) in numbered.items()
            if path in self._offsets and first != 1
        }
        if shifts:
            execute(
                self.con,
                f"""
                update {spec.table} as rows set _row_number = rows._row_number - shifts.by
                from (select unnest(?::varchar[]) as _source_file, unnest(?::bigint[]) as by)
                    as shifts
                where {self._batch} and rows._source_file = shifts._source_file
                """,
                [list(shifts), list(shifts.values())],
            )
        for path, (rows, first, last) in numbered.items():
            if path in self._offsets and last - first + 1 != rows:
                raise RuntimeError(
                    f"{path}: DuckDB read its {rows} records out of order (ordinals "
                    f"{first}..{last} in its scan); nothing of this load was written"
                )

    def _unchanged_since_hashed(self, spec: FeedSpec, staged: list[FileOutcome]) -> None:
        """Each file hashed again now that DuckDB has read it: one whose bytes are not those
        hashed before (rewritten in place, swapped for another) leaves this load, rows and
        all, unlogged and where it is: the next load reads it (ingest/landing.py)."""
        changed = []
        for outcome in staged:
            try:
                same = digest_of(outcome.path) == outcome.content_hash
            except OSError:  # gone, or a link now
                same = False
            if not same:
                outcome.status = "deferred"
                outcome.reason = "the file changed while it was loaded; the next load reads it"
                changed.append(outcome)
        if changed:
            self._drop_files(spec, changed, staged, rejected=None)
            self._deferred.extend(changed)

    def _reconcile(
        self, spec: FeedSpec, staged: list[FileOutcome], rejected: list[FileOutcome]
    ) -> None:
        """Nothing vanishes: each file's records as counted without DuckDB (its rows_read)
        must be the rows DuckDB returned plus the lines it rejected. DuckDB 2.0 skips a line
        of ~100 MB without a reject (one of 2-100 MB it rejects): a file whose counts differ
        is quarantined whole, with both counts, and nothing of it loads."""
        rejects = dict(
            execute(
                self.con, "select _source_file, count(*) from _rejected_lines group by all"
            ).fetchall()
        )
        wrong = []
        for outcome in staged:
            path = outcome.source
            returned = self._files.get(path, (0,))[0] + rejects.get(path, 0)
            if returned != outcome.rows_read:
                outcome.status = "quarantined"
                outcome.reason = (
                    f"DuckDB's reader returned {returned} of the {outcome.rows_read} records "
                    "the file holds (it skips some malformed records, such as a line of many "
                    "megabytes, without a word): quarantined whole, nothing of it loaded"
                )
                wrong.append(outcome)
        self._drop_files(spec, wrong, staged, rejected)

    def _hold_corrections(
        self, spec: FeedSpec, staged: list[FileOutcome], rejected: list[FileOutcome]
    ) -> None:
        """Good data is never replaced by worse: a new version of a day already loaded
        replaces it only if none of its rows fails (the checks its first load passed).
        Otherwise the whole file is held in quarantine and the day keeps its previous load,
        until an operator accepts that file (`flightline ingest --accept FILE`)."""
        held = [
            o
            for o in staged
            if o.status == "loaded"
            and o.is_correction
            and (o.rows_quarantined or not o.rows_loaded)
        ]
        for outcome in held:
            what = f"the day {outcome.partition_key}" if outcome.partition_key else "the table"
            accept = f"flightline ingest --accept {self._quarantine_target(spec, outcome)}"
            outcome.status = "quarantined"
            if not outcome.rows_read:
                outcome.reason = (
                    f"correction held: it has no records and would empty {what}, which keeps "
                    f"its previous load. To load it anyway: {accept}"
                )
                continue
            reasons = execute(
                self.con,
                """
                select reason, count(*) from (
                    select reason from _failed where _source_file = ?
                    union all select reason from _rejected_lines where _source_file = ?
                ) group by all order by 2 desc, 1 limit 3
                """,
                [outcome.source, outcome.source],
            ).fetchall()
            outcome.reason = (
                f"correction held: {outcome.rows_quarantined} of its {outcome.rows_read} rows "
                f"fail their checks ({'; '.join(f'{n} x {r[:120]}' for r, n in reasons)}); "
                f"{what} keeps its previous load. To load it anyway, its failing rows "
                f"quarantined: {accept}"
            )
        self._drop_files(spec, held, staged, rejected)

    def _drop_files(
        self,
        spec: FeedSpec,
        outcomes: list[FileOutcome],
        staged: list[FileOutcome],
        rejected: list[FileOutcome] | None,
    ) -> None:
        """Take files out of this load, quarantined whole (into `rejected`; the file is kept
        in quarantine/) or left for the next load (None): their rows leave the table and the
        row-level quarantine."""
        if not outcomes:
            return
        paths = [outcome.source for outcome in outcomes]
        for table, where in (
            (spec.table, f"{self._batch} and "),
            ("_failed", ""),
            ("_rejected_lines", ""),
        ):
            execute(
                self.con,
                f"delete from {table} where {where}_source_file in (select unnest(?::varchar[]))",
                [paths],
            )
        for outcome in outcomes:
            outcome.rows_loaded, outcome.rows_quarantined = 0, outcome.rows_read
            self._files.pop(outcome.source, None)
            staged.remove(outcome)
            if rejected is not None:
                rejected.append(outcome)

    def _mark(self, failed: str, params: list | None = None) -> None:
        """Give the rows `failed` selects (_source_file, _row_number, reason) their reason,
        unless they already have one."""
        execute(
            self.con,
            f"""
            insert into _failed
            select failed._source_file, failed._row_number, failed.reason from ({failed}) as failed
            anti join _failed using (_source_file, _row_number)
            """,
            params or [],
        )

    def _count(self, staged: list[FileOutcome]) -> None:
        """Rows read, loaded and quarantined per staged file: its rows in the table (counted
        by _check), those failed, and the lines DuckDB's reader rejected."""
        failed, rejects = {}, {}
        for path, bad, extra in execute(
            self.con,
            """
            select _source_file, count(*) filter (where failed), count(*) filter (where not failed)
            from (
                select _source_file, true as failed from _failed
                union all select _source_file, false from _rejected_lines
            ) group by all
            """,
        ).fetchall():
            failed[path], rejects[path] = bad, extra
        for outcome in staged:
            path = outcome.source
            total = self._files.get(path, (0,))[0]
            bad, extra = failed.get(path, 0), rejects.get(path, 0)
            outcome.rows_read = total + extra
            outcome.rows_quarantined = bad + extra
            outcome.rows_loaded = total - bad

    def _validate(
        self, spec: FeedSpec, staged: list[FileOutcome], rejected: list[FileOutcome]
    ) -> Validation:
        """Run the feed's suite on the rows about to load; quarantine what fails critically.
        Files whose day is rejected are marked quarantined and join `rejected`.

        In DuckDB (quality.validate_sql): the rows never pass through pandas, so a load's
        memory does not grow with its size and GX costs the same for 1k rows or 10M."""
        from ingest.expectations import RAW_SUITES
        from ingest.quality import CRITICAL
        from ingest.quality_sql import row_checks, validate_sql

        con = self.con
        suite = RAW_SUITES[spec.name]
        if execute(con, "select count(*) from _failed").fetchone()[0]:
            execute(
                con,
                "create or replace temp view _to_validate as select *, "
                f"coalesce(_file_partition, 'all') as _partition from {self._batch_rows(spec)}",
            )
        else:
            # Nothing failed _check, so every row of a daily file has the file's day in its
            # partition column: the batch's rows as they are, without joining the file list
            # and anti-joining _failed on the file name (10M actuals: a scan 4.1 s -> 1.3 s).
            partition = f'"{spec.partition_column}"::varchar' if spec.is_daily else "'all'"
            execute(
                con,
                "create or replace temp view _to_validate as select *, "
                f"{partition} as _partition from {spec.table} where {self._batch}",
            )
        partitions = sorted({o.partition_key or "all" for o in staged})
        validation = validate_sql(
            self.quality,
            suite,
            con,
            "_to_validate",
            "_partition",
            partitions,
            order_by="_source_file, _row_number",
            usual_rows=self._usual_rows(spec, staged, partitions),
        )
        critical = [c for c in row_checks(suite) if c.severity == CRITICAL]
        failed = {f.expectation for f in validation.failures if f.severity == CRITICAL}
        critical = [c for c in critical if c.described in failed]
        if critical:
            reason = " ".join(
                f"when {c.fails} then '{c.reason.replace(chr(39), chr(39) * 2)}'" for c in critical
            )
            fails = " or ".join(f"({c.fails})" for c in critical)
            self._mark(
                f"select _source_file, _row_number, case {reason} end as reason "
                f"from _to_validate where {fails}"
            )
        for partition in validation.rejected_partitions():
            reason = f"day failed its expectations: {validation.summary(partition)}"
            self._mark(
                "select _source_file, _row_number, ? as reason "
                "from _to_validate where _partition = ?",
                [reason, partition],
            )
            for outcome in staged:
                if (outcome.partition_key or "all") == partition:
                    outcome.status, outcome.reason = "quarantined", reason
                    rejected.append(outcome)
        return validation

    def _usual_rows(
        self, spec: FeedSpec, staged: list[FileOutcome], partitions: list[str]
    ) -> float | None:
        """A day's usual row count: the median over the batch's days and the 28 latest
        loaded days before them. Scale-free, so a synthetic 30M-flight year is judged by
        the same suite as 2013; a batch of one day with no history judges itself (1.0).

        The batch's days are counted from _check's per-file rows less the failed ones, not
        by scanning the batch again (2 s for a 10M-row year)."""
        if not spec.is_daily:
            return None
        con = self.con
        failed = dict(
            execute(con, "select _source_file, count(*) from _failed group by all").fetchall()
        )
        partition_of = {outcome.source: outcome.partition_key for outcome in staged}
        batch: dict[str, int] = defaultdict(int)
        for path, (rows, *_) in self._files.items():
            batch[partition_of[path] or "all"] += rows - failed.get(path, 0)
        part = f'"{spec.partition_column}"'
        loaded = f"(select * from {spec.table} where not ({self._batch}))"
        history = [
            n
            for (n,) in execute(
                con,
                f"""
                select count(*) from {loaded}
                where {part} >= (select max({part}) from {loaded}) - interval 28 day
                    and {part}::varchar not in (select unnest(?::varchar[]))
                group by {part}
                """,
                [partitions],
            ).fetchall()
        ]
        counts = [n for n in batch.values() if n] + history
        return statistics.median(counts) if counts else None

    def _settle(
        self,
        spec: FeedSpec,
        staged: list[FileOutcome],
        rejected: list[FileOutcome],
        duplicates: list[FileOutcome],
    ) -> None:
        """Inside the load's transaction: move the failed rows to ingest.quarantined_rows
        with the lines the reader rejected, drop the rows the loaded files replace, and
        write the file log."""
        con = self.con
        if any(outcome.rows_quarantined for outcome in staged):  # counted by _count
            execute(
                con,
                f"""
                insert into ingest.quarantined_rows
                select ?, ?, rows._source_file, rows._content_hash, files.partition_key,
                    rows._row_number, _failed.reason, {_record_json(spec)}, now()
                from {spec.table} as rows
                join _failed using (_source_file, _row_number)
                join _batch_files as files using (_source_file)
                where {self._batch}
                union all
                select ?, ?, lines._source_file, files.content_hash, files.partition_key,
                    lines._row_number, lines.reason, lines.raw, now()
                from _rejected_lines as lines join _batch_files as files using (_source_file)
                """,
                [self.batch_id, spec.name, self.batch_id, spec.name],
            )
            execute(
                con,
                f"""
                delete from {spec.table} as rows using _failed
                where {self._batch} and rows._source_file = _failed._source_file
                    and rows._row_number = _failed._row_number
                """,
            )
        loaded = [o for o in staged if o.status == "loaded"]
        if loaded and spec.is_daily:
            execute(
                con,
                f"delete from {spec.table} where {quote_name(spec.partition_column)} "
                f"in (select unnest(?::date[])) and not ({self._batch})",
                [sorted({o.partition_key for o in loaded})],
            )
        elif loaded:
            execute(con, f"delete from {spec.table} where not ({self._batch})")
        logged = [*loaded, *rejected, *duplicates]
        if logged:
            # One statement of zipped lists: executemany costs ~1.3 ms a row in DuckDB
            # (0.5 s for a year of a daily feed).
            execute(
                con,
                """
                insert into ingest.file_log select ?, ?, unnest(?::varchar[]),
                    unnest(?::varchar[]), unnest(?::varchar[]), unnest(?::varchar[]),
                    unnest(?::bigint[]), unnest(?::bigint[]), unnest(?::bigint[]),
                    unnest(?::varchar[]), now()
                """,
                [
                    self.batch_id,
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

    def _quarantine_target(self, spec: FeedSpec, outcome: FileOutcome) -> Path:
        """Where a file is kept in quarantine/: `<12 hex of its hash>-<its name>`, the name
        cut to fit a file system's 255 bytes with `.reason.txt` after it."""
        name = outcome.path.name.encode("utf-8", "surrogateescape")[:_QUARANTINE_NAME_BYTES]
        shown = name.decode("utf-8", "ignore")
        return self.quarantine / spec.name / f"{outcome.content_hash[:12]}-{shown}"

    def _move_to_quarantine(self, spec: FeedSpec, outcome: FileOutcome) -> None:
        """Move a file out of landing/ with its reason beside it, readable by the owner (and
        group) only. A move that fails does not stop the other files: the file stays in
        landing/, its content logged quarantined (so not read again), and the reason says
        so."""
        target = self._quarantine_target(spec, outcome)
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            if outcome.path.is_symlink() or outcome.path.exists():
                shutil.move(outcome.path, target)  # a link moves as the link, not its target
            note = target.with_name(target.name + ".reason.txt")
            note.write_text(
                encoding="utf-8",
                data=f"feed: {spec.name}\nfile: {outcome.source!a}\n"
                f"batch: {self.batch_id}\nreason: {outcome.reason}\n",
            )
            for kept in (target, note):
                if kept.exists() and not kept.is_symlink():
                    kept.chmod(0o640)
        except OSError as error:
            outcome.reason = f"{outcome.reason} (left in landing/: the move failed: {error})"


def accept(con: duckdb.DuckDBPyConnection, landing: Path, quarantine: Path, kept: Path) -> Path:
    """An operator accepts a file held in quarantine (a correction some of whose rows fail):
    it goes back to landing/ under its own name, and its content (by hash, so only these
    bytes) is recorded in ingest.accepted_files. The next load takes it as any new file:
    its failing rows quarantined, the rest replacing the day. Returns where it landed."""
    from ingest.catalog import FEEDS_BY_NAME

    kept = Path(kept)
    spec = FEEDS_BY_NAME.get(kept.parent.name)
    if spec is None or kept.parent.parent.resolve() != quarantine.resolve():
        raise ValueError(f"{kept} is not a file in {quarantine}/<feed>/")
    if kept.is_symlink() or not kept.is_file() or "-" not in kept.name:
        raise ValueError(f"{kept} is not a quarantined feed file")
    target = landing / spec.pattern.rsplit("/", 1)[0] / kept.name.split("-", 1)[1]
    if target.exists() or target.is_symlink():
        raise ValueError(f"landing/ already has {target}: move it away first")
    digest = stage(kept, spec).digest
    execute(
        con,
        "insert into ingest.accepted_files values (?, ?, now())",
        [spec.name, digest],
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(kept, target)
    kept.with_name(kept.name + ".reason.txt").unlink(missing_ok=True)
    return target


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
