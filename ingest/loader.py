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

Files are read with DuckDB's own readers (all columns as text first, then ``try_cast``), so
a bad value becomes a quarantined row with a reason instead of failing the whole load.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import shutil
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from ingest.catalog import FEEDS, FeedSpec
from ingest.quality import Validation
from ingest.settings import get_settings

PARTITION_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Unit separator: never appears in a JSON Lines record, so each line reads as one text column.
JSONL_DELIMITER = "\x1f"

SETUP_SQL = """
create schema if not exists raw;
create schema if not exists ingest;
create table if not exists ingest.file_log (
    batch_id varchar not null,
    feed varchar not null,
    source_file varchar not null,
    content_hash varchar not null,
    partition_key varchar,
    status varchar not null,
    rows_read bigint not null,
    rows_loaded bigint not null,
    rows_quarantined bigint not null,
    reason varchar,
    logged_at timestamptz not null
);
create table if not exists ingest.quarantined_rows (
    batch_id varchar not null,
    feed varchar not null,
    source_file varchar not null,
    content_hash varchar not null,
    partition_key varchar,
    row_number bigint,
    reason varchar not null,
    raw_record varchar,
    quarantined_at timestamptz not null
);
"""


class FileRejected(Exception):
    """A whole file cannot be loaded; the message says why."""


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


def duckdb_config() -> dict[str, str]:
    """What every flightline connection to the warehouse sets (see Settings). The same
    everywhere: DuckDB refuses a second connection to a file with a different config."""
    return {"memory_limit": get_settings().duckdb_memory_limit}


def connect(warehouse: Path) -> duckdb.DuckDBPyConnection:
    warehouse.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(warehouse), config=duckdb_config())
    ensure_tables(con)
    return con


def ensure_tables(con: duckdb.DuckDBPyConnection, feeds: tuple[FeedSpec, ...] = FEEDS) -> None:
    con.execute(SETUP_SQL)
    for spec in feeds:
        columns = ", ".join(f'"{column.name}" {column.type}' for column in spec.columns)
        con.execute(
            f"create table if not exists {spec.table} ({columns}, _source_file varchar, "
            "_content_hash varchar, _row_number bigint, _loaded_at timestamptz, "
            "_batch_id varchar)"
        )


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discover(landing: Path, spec: FeedSpec, partitions: set[str] | None = None) -> list[Path]:
    """Landed files of a feed, optionally only those of some partitions (daily feeds)."""
    files = sorted(path for path in landing.glob(spec.pattern) if path.is_file())
    if partitions is not None and spec.is_daily:
        # A file not named by a date belongs to no partition: every load takes it, so that it
        # is quarantined with its reason instead of waiting in landing/ unseen.
        files = [p for p in files if p.stem in partitions or not PARTITION_RE.match(p.stem)]
    return files


def _sql_list(values: list[str]) -> str:
    return "[" + ", ".join("'" + value.replace("'", "''") + "'" for value in values) + "]"


def _partition_of(spec: FeedSpec, path: Path) -> str | None:
    if not spec.is_daily:
        return None
    if not PARTITION_RE.match(path.stem):
        raise FileRejected(f"file name must be YYYY-MM-DD{path.suffix}, got {path.name!r}")
    try:
        date.fromisoformat(path.stem)
    except ValueError as error:
        raise FileRejected(f"file name {path.name!r} is not a calendar date") from error
    return path.stem


def _unreadable_rows(spec: FeedSpec, path: Path) -> int:
    """Rows of a file quarantined whole, for the log: its non-empty lines (less the CSV
    header); a Parquet file that cannot be read has no countable rows."""
    if spec.format == "parquet" or not path.exists():
        return 0
    with path.open("rb") as handle:
        lines = sum(1 for line in handle if line.strip())
    return max(lines - (spec.format == "csv"), 0)


def _file_columns(con: duckdb.DuckDBPyConnection, spec: FeedSpec, path: Path) -> list[str]:
    """The columns a file carries, read cheaply; raises FileRejected if it cannot be read."""
    if path.stat().st_size == 0:
        raise FileRejected("file is empty")
    if spec.format == "csv":
        with path.open("rb") as handle:
            first = handle.readline()
        try:
            header = first.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise FileRejected(f"header is not UTF-8 text: {error}") from error
        columns = next(csv.reader(io.StringIO(header)), [])
        return [column.strip() for column in columns]
    if spec.format == "jsonl":
        rows = con.execute(
            f"""
            select distinct unnest(json_keys(object)) from (
                select {_JSON_OBJECT} as object from {_jsonl_reader([path])}
            ) where object is not null
            """
        ).fetchall()
        if not rows:
            raise FileRejected("no line of the file is a JSON object")
        return [row[0] for row in rows]
    try:
        described = con.execute(
            f"describe select * from read_parquet({_sql_list([str(path)])})"
        ).fetchall()
    except duckdb.Error as error:
        raise FileRejected(f"not a readable Parquet file: {error}") from error
    return [row[0] for row in described]


def _jsonl_keys(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> dict[str, list[str]]:
    """The keys of every JSON Lines file in one scan (one query per file cost ~50 ms each,
    20 s for a year of a daily feed). Files it cannot settle (empty, unreadable, no object:
    absent from the result) are read one by one by _file_columns, which says why."""
    readable = [p for p in paths if p.stat().st_size > 0]
    if not readable:
        return {}
    try:
        rows = con.execute(
            f"""
            select filename, list(distinct key) from (
                select filename, unnest(json_keys(object)) as key from (
                    select filename, {_JSON_OBJECT} as object from {_jsonl_reader(readable)}
                ) where object is not null
            ) group by filename
            """
        ).fetchall()
    except duckdb.Error:
        return {}
    finally:
        # Start the stage's own scans with empty reject tables (see _stage_files).
        con.execute("drop table if exists _rejects")
        con.execute("drop table if exists _rejects_scan")
    return {path: keys for path, keys in rows}


# The line when it is a JSON object, else null. CASE evaluates per row, where AND does not
# short-circuit in DuckDB's vectorised execution: json_type() on a malformed line raises.
_JSON_OBJECT = (
    "case when json_valid(line) then case when json_type(line) = 'OBJECT' then line end end"
)


def _jsonl_reader(paths: list[Path]) -> str:
    return (
        f"read_csv({_sql_list([str(p) for p in paths])}, columns={{'line': 'VARCHAR'}}, "
        f"header=false, delim='{JSONL_DELIMITER}', quote='', escape='', filename=true, "
        "auto_detect=false, store_rejects=true, rejects_table='_rejects', "
        "rejects_scan='_rejects_scan')"
    )


def _stage_select(spec: FeedSpec, paths: list[Path]) -> str:
    """SQL selecting every record of the files as text: spec columns, _source_file,
    _row_number (1-based within the file) and, for JSON Lines, _raw (the line)."""
    files = _sql_list([str(path) for path in paths])
    names = spec.column_names
    if spec.format == "csv":
        source = (
            f"read_csv({files}, header=true, all_varchar=true, filename=true, delim=',', "
            "quote='\"', escape='\"', store_rejects=true, rejects_table='_rejects', "
            "rejects_scan='_rejects_scan')"
        )
        return _tabular_select([f'"{name}"' for name in names], names, source)
    if spec.format == "jsonl":
        fields = ", ".join(
            f'case when _is_object then json_extract_string(line, \'$."{name}"\') end as "{name}"'
            for name in names
        )
        return (
            f"select {fields}, filename as _source_file, _row_number, line as _raw, "
            "_is_object from (select line, filename, "
            "row_number() over (partition by filename) as _row_number, "
            f"{_JSON_OBJECT} is not null as _is_object "
            f"from {_jsonl_reader(paths)})"
        )
    return _tabular_select(
        [f'cast("{name}" as varchar) as "{name}"' for name in names],
        names,
        f"read_parquet({files}, filename=true, union_by_name=true)",
    )


def _tabular_select(fields: list[str], names: list[str], source: str) -> str:
    """Records of a CSV or Parquet scan: the fields, their file, their row number in it."""
    return (
        f"select {', '.join(fields)}, filename as _source_file, "
        f"row_number() over (partition by filename) as _row_number "
        f"from {source}"
    )


def _raw_sql(spec: FeedSpec) -> str:
    """A staged record as text, what ingest.quarantined_rows keeps of a rejected row: the
    line itself for JSON Lines, the fields as a JSON object otherwise. Computed only for the
    rows quarantined (serialising every row of a year cost more than reading it)."""
    if spec.format == "jsonl":
        return "_raw"
    fields = ", ".join(f'"{n}" := "{n}"' for n in spec.column_names)
    return f"to_json(struct_pack({fields}))::varchar"


def _reason_sql(spec: FeedSpec) -> str:
    checks = []
    if spec.format == "jsonl":
        checks.append("case when not _is_object then 'line is not a JSON object' end")
    for column in spec.columns:
        name = f'"{column.name}"'
        shown = f"left({name}, 40)"
        missing = f"when {name} is null then '{column.name} is required'" if column.required else ""
        checks.append(
            f"case {missing} when {name} is not null and try_cast({name} as {column.type}) "
            f"is null then '{column.name}: ''' || {shown} || ''' is not a valid {column.type}' "
            "end"
        )
    if spec.is_daily:
        part = f'"{spec.partition_column}"'
        checks.append(
            f"case when try_cast({part} as date) <> try_cast(_file_partition as date) "
            f"then '{spec.partition_column} ' || {part} || ' is not the file''s date ' "
            "|| _file_partition end"
        )
    return "nullif(concat_ws('; ', " + ", ".join(checks) + "), '')"


class Loader:
    """Loads landed files of each feed into the warehouse through one DuckDB connection."""

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
        ensure_tables(con)

    def pending(self, spec: FeedSpec, partitions: set[str] | None = None) -> list[Path]:
        """Landed files whose content has not been logged for that path yet."""
        files = discover(self.landing, spec, partitions)
        seen = {
            (path, digest)
            for path, digest in self.con.execute(
                "select source_file, content_hash from ingest.file_log where feed = ?",
                [spec.name],
            ).fetchall()
        }
        return [path for path in files if (str(path), file_hash(path)) not in seen]

    def load(self, spec: FeedSpec, partitions: set[str] | None = None) -> IngestResult:
        started = time.perf_counter()
        result = IngestResult(batch_id=self.batch_id)
        files = discover(self.landing, spec, partitions)
        logged = self.con.execute(
            "select source_file, content_hash, status from ingest.file_log where feed = ?",
            [spec.name],
        ).fetchall()
        seen_pairs = {(path, digest) for path, digest, _ in logged}
        loaded_hashes = {digest for _, digest, status in logged if status == "loaded"}

        candidates: list[FileOutcome] = []
        rejected: list[FileOutcome] = []
        batch_hashes: set[str] = set()
        for path in files:
            digest = file_hash(path)
            if (str(path), digest) in seen_pairs:
                result.skipped += 1
                continue
            outcome = FileOutcome(spec.name, path, digest, None, "loaded")
            try:
                outcome.partition_key = _partition_of(spec, path)
            except FileRejected as error:
                outcome.status, outcome.reason = "quarantined", str(error)
                rejected.append(outcome)
                continue
            if digest in loaded_hashes or digest in batch_hashes:
                outcome.status = "duplicate"
                outcome.reason = "same content as a file already loaded; not loaded again"
                result.outcomes.append(outcome)
                continue
            batch_hashes.add(digest)
            candidates.append(outcome)

        groups: dict[tuple[str, ...], list[FileOutcome]] = defaultdict(list)
        keys = {}
        if spec.format == "jsonl":
            keys = _jsonl_keys(self.con, [o.path for o in candidates])
        for outcome in candidates:
            try:
                columns = keys.get(str(outcome.path)) or _file_columns(self.con, spec, outcome.path)
            except FileRejected as error:
                outcome.status, outcome.reason = "quarantined", str(error)
                rejected.append(outcome)
                continue
            missing = [name for name in spec.column_names if name not in columns]
            if missing:
                outcome.status = "quarantined"
                outcome.reason = (
                    f"missing column(s) {', '.join(missing)}; expected "
                    f"{', '.join(spec.column_names)}"
                )
                rejected.append(outcome)
                continue
            extra = [name for name in columns if name not in spec.column_names]
            if extra:
                outcome.reason = f"extra column(s) ignored: {', '.join(extra)}"
            key = tuple(columns) if spec.format == "csv" else ()
            groups[key].append(outcome)

        for outcome in rejected:
            outcome.rows_read = outcome.rows_quarantined = _unreadable_rows(spec, outcome.path)

        checked = self._stage(spec, groups, rejected)
        staged = checked
        if self.quality is not None and checked:
            result.validation = self._validate(spec, checked, rejected)
            staged = [o for o in checked if o.status == "loaded"]
        result.outcomes.extend(staged)
        result.outcomes.extend(rejected)
        self._commit(
            spec,
            staged,
            rejected,
            [o for o in result.outcomes if o.status == "duplicate"],
            checked,
        )
        for outcome in rejected:
            self._move_to_quarantine(spec, outcome)
        result.seconds = time.perf_counter() - started
        return result

    def _stage(
        self,
        spec: FeedSpec,
        groups: dict[tuple[str, ...], list[FileOutcome]],
        rejected: list[FileOutcome],
    ) -> list[FileOutcome]:
        """Read the files into the temp table _stage; files DuckDB cannot parse are rejected."""
        con = self.con
        con.execute("drop table if exists _stage")
        con.execute("drop table if exists _rejected_lines")
        con.execute(
            "create temp table _rejected_lines "
            "(source_file varchar, line bigint, reason varchar, raw varchar)"
        )
        staged: list[FileOutcome] = []
        for outcomes in groups.values():
            try:
                self._stage_files(spec, [o.path for o in outcomes])
                staged.extend(outcomes)
            except duckdb.Error:
                # One file spoils a multi-file scan: read them one by one to find it.
                for outcome in outcomes:
                    try:
                        self._stage_files(spec, [outcome.path])
                        staged.append(outcome)
                    except duckdb.Error as error:
                        outcome.status = "quarantined"
                        outcome.reason = f"cannot be parsed as {spec.format}: {error}"
                        outcome.rows_read = outcome.rows_quarantined = _unreadable_rows(
                            spec, outcome.path
                        )
                        rejected.append(outcome)
        if not staged:
            return staged
        partitions = {str(o.path): o.partition_key for o in staged}
        con.execute("drop table if exists _file_partitions")
        con.execute(
            "create temp table _file_partitions (_source_file varchar, partition_key varchar)"
        )
        con.executemany("insert into _file_partitions values (?, ?)", list(partitions.items()))
        key = ", ".join(f'"{name}"' for name in spec.natural_key)
        con.execute(
            f"""
            create or replace temp table _checked as
            with staged as (
                select _stage.*, _file_partitions.partition_key as _file_partition
                from _stage join _file_partitions using (_source_file)
            ),
            checked as (
                select *, {_reason_sql(spec)} as _reason from staged
            ),
            ranked as (
                select *,
                    case when _reason is null then row_number() over (
                        partition by _reason is null, {key}
                        order by _source_file, _row_number
                    ) end as _key_rank
                from checked
            )
            select * exclude (_key_rank),
                coalesce(_reason, case when _key_rank > 1 then
                    'duplicate natural key ({", ".join(spec.natural_key)}) of an earlier row'
                end) as _final_reason
            from ranked
            """
        )
        self._count(staged)
        return staged

    def _count(self, staged: list[FileOutcome]) -> None:
        """Rows read, loaded and quarantined per staged file, from _checked and the lines
        DuckDB's reader rejected."""
        counts = self.con.execute(
            """
            select _source_file, count(*), count(*) filter (where _final_reason is not null)
            from _checked group by all
            """
        ).fetchall()
        by_file = {path: (total, bad) for path, total, bad in counts}
        rejects = dict(
            self.con.execute(
                "select source_file, count(*) from _rejected_lines group by all"
            ).fetchall()
        )
        for outcome in staged:
            total, bad = by_file.get(str(outcome.path), (0, 0))
            extra = rejects.get(str(outcome.path), 0)
            outcome.rows_read = total + extra
            outcome.rows_quarantined = bad + extra
            outcome.rows_loaded = total - bad

    def _validate(
        self, spec: FeedSpec, staged: list[FileOutcome], rejected: list[FileOutcome]
    ) -> Validation:
        """Run the feed's suite on the rows about to load; quarantine what fails critically.
        Files whose day is rejected move from `staged` to `rejected` (status quarantined).

        In DuckDB (quality.validate_sql): the rows never pass through pandas, so a load's
        memory does not grow with its size and GX costs the same for 1k rows or 10M."""
        from ingest.expectations import RAW_SUITES
        from ingest.quality import CRITICAL, row_checks, validate_sql

        con = self.con
        suite = RAW_SUITES[spec.name]
        casts = ", ".join(f'try_cast("{c.name}" as {c.type}) as "{c.name}"' for c in spec.columns)
        con.execute(
            f"create or replace temp view _to_validate as select {casts}, _source_file, "
            "_row_number, coalesce(_file_partition, 'all') as _partition "
            "from _checked where _final_reason is null"
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
            usual_rows=self._usual_rows(spec, partitions),
        )
        critical = [c for c in row_checks(suite) if c.severity == CRITICAL]
        failed = {f.expectation for f in validation.failures if f.severity == CRITICAL}
        critical = [c for c in critical if c.described in failed]
        rejected_days = validation.rejected_partitions()
        if critical:
            reason = " ".join(
                f"when {c.fails} then '{c.reason.replace(chr(39), chr(39) * 2)}'" for c in critical
            )
            fails = " or ".join(f"({c.fails})" for c in critical)
            self._mark(
                f"select _source_file, _row_number, case {reason} end as reason "
                f"from _to_validate where {fails}"
            )
        for partition in rejected_days:
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
        if critical or rejected_days:
            self._count(staged)
        return validation

    def _mark(self, failed: str, params: list | None = None) -> None:
        """Give the rows `failed` selects (_source_file, _row_number, reason) their reason
        (rows without one yet)."""
        self.con.execute(
            f"""
            update _checked set _final_reason = failed.reason
            from ({failed}) as failed
            where _checked._source_file = failed._source_file
                and _checked._row_number = failed._row_number
                and _checked._final_reason is null
            """,
            params or [],
        )

    def _usual_rows(self, spec: FeedSpec, partitions: list[str]) -> float | None:
        """A day's usual row count: the median over the batch's days and the 28 latest
        loaded days before them. Scale-free, so a synthetic 30M-flight year is judged by
        the same suite as 2013; a batch of one day with no history judges itself (1.0)."""
        if not spec.is_daily:
            return None
        part = f'"{spec.partition_column}"'
        return self.con.execute(
            f"""
            select median(n) from (
                select count(*) as n from _to_validate group by _partition
                union all
                select count(*) from {spec.table}
                where {part} >= (select max({part}) from {spec.table}) - interval 28 day
                    and {part}::varchar not in (select unnest(?::varchar[]))
                group by {part}
            )
            """,
            [partitions],
        ).fetchone()[0]

    def _stage_files(self, spec: FeedSpec, paths: list[Path]) -> None:
        con = self.con
        select = _stage_select(spec, paths)
        exists = con.execute(
            "select count(*) from duckdb_tables() where table_name = '_stage' and temporary"
        ).fetchone()[0]
        # DuckDB appends every scan's rejects to the same tables: start each scan empty, or
        # a second scan in this connection would count the first one's rejects again.
        con.execute("drop table if exists _rejects")
        con.execute("drop table if exists _rejects_scan")
        con.execute("begin")
        try:
            if exists:
                con.execute(f"insert into _stage by name {select}")
            else:
                con.execute(f"create temp table _stage as {select}")
            if spec.format in ("csv", "jsonl"):
                con.execute(
                    """
                    insert into _rejected_lines
                    select scans.file_path, errors.line,
                        errors.error_type || ': ' || errors.error_message, errors.csv_line
                    from _rejects as errors
                    join _rejects_scan as scans using (scan_id, file_id)
                    """
                )
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise

    def _commit(
        self,
        spec: FeedSpec,
        staged: list[FileOutcome],
        rejected: list[FileOutcome],
        duplicates: list[FileOutcome],
        checked: list[FileOutcome],
    ) -> None:
        """Write the rows of `staged` files, the quarantined rows of every `checked` file
        (staged, or rejected whole by its expectations), and the file log, atomically."""
        con = self.con
        columns = ", ".join(f'"{name}"' for name in spec.column_names)
        casts = ", ".join(f'try_cast("{c.name}" as {c.type})' for c in spec.columns)
        con.execute("begin transaction")
        try:
            if staged:
                if spec.is_daily:
                    keys = _sql_list(sorted({o.partition_key for o in staged}))
                    con.execute(
                        f'delete from {spec.table} where "{spec.partition_column}" '
                        f"in (select unnest({keys}::date[]))"
                    )
                else:
                    con.execute(f"delete from {spec.table}")
                con.execute(
                    f"""
                    insert into {spec.table}
                        ({columns}, _source_file, _content_hash, _row_number, _loaded_at,
                        _batch_id)
                    select {casts}, _checked._source_file, hashes.content_hash, _row_number,
                        now(), ?
                    from _checked join _hashes as hashes using (_source_file)
                    where _final_reason is null
                    order by _checked._source_file, _row_number
                    """.replace("_hashes", self._hash_table(staged)),
                    [self.batch_id],
                )
            if checked:
                con.execute(
                    f"""
                    insert into ingest.quarantined_rows
                    select ?, ?, _checked._source_file, hashes.content_hash, _file_partition,
                        _row_number, _final_reason, {_raw_sql(spec)}, now()
                    from _checked join {self._hash_table(checked)} as hashes using (_source_file)
                    where _final_reason is not null
                    union all
                    select ?, ?, source_file, hashes.content_hash, partitions.partition_key,
                        line, reason, raw, now()
                    from _rejected_lines
                    join {self._hash_table(checked)} as hashes on hashes._source_file = source_file
                    join _file_partitions as partitions on partitions._source_file = source_file
                    """,
                    [self.batch_id, spec.name, self.batch_id, spec.name],
                )
            logged = [
                [
                    self.batch_id,
                    spec.name,
                    str(outcome.path),
                    outcome.content_hash,
                    outcome.partition_key,
                    outcome.status,
                    outcome.rows_read,
                    outcome.rows_loaded,
                    outcome.rows_quarantined,
                    outcome.reason,
                ]
                for outcome in [*staged, *rejected, *duplicates]
            ]
            if logged:
                con.executemany(
                    "insert into ingest.file_log values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                    logged,
                )
            _after_rows_written()
            con.execute("commit")
        except BaseException:
            con.execute("rollback")
            raise

    def _hash_table(self, staged: list[FileOutcome]) -> str:
        values = ", ".join(
            "('" + str(o.path).replace("'", "''") + f"', '{o.content_hash}')" for o in staged
        )
        return f"(select * from (values {values}) as t(_source_file, content_hash))"

    def _move_to_quarantine(self, spec: FeedSpec, outcome: FileOutcome) -> None:
        if not outcome.path.exists():
            return
        target_dir = self.quarantine / spec.name
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / f"{outcome.content_hash[:12]}-{outcome.path.name}"
        shutil.move(str(outcome.path), target)
        target.with_name(target.name + ".reason.txt").write_text(
            f"feed: {spec.name}\nfile: {outcome.path}\nbatch: {self.batch_id}\n"
            f"reason: {outcome.reason}\n"
        )


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
