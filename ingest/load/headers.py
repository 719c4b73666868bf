"""The columns a landed file carries (CSV header, JSON Lines keys, Parquet schema), matched
with the catalogue's: a file missing a column is rejected, extra columns are ignored, and
the batch's files are grouped by the columns DuckDB reads them under.

A header's text never becomes SQL: CSV names are read and compared in Python, and DuckDB
reads the columns by position under the catalogue's names (`declared_columns`).
"""

from __future__ import annotations

import csv
import re
from collections import defaultdict
from pathlib import Path

import duckdb

from ingest.catalog import FeedSpec
from ingest.landing import FileRejected, Staged
from ingest.load.batch import Batch
from ingest.load.outcomes import FileOutcome
from ingest.load.readers import JSON_OBJECT, clear_rejects, first_line, jsonl_reader
from ingest.warehouse import execute, sql_paths

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def header_columns(first: bytes) -> list[str]:
    """The column names of a CSV file's header, read in Python (never by DuckDB, never into
    SQL: see declared_columns)."""
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


def declared_columns(spec: FeedSpec, columns: list[str]) -> tuple[str, ...]:
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


def shown(names: list[str]) -> str:
    """Column names from a file, for a reason a person reads: printable, and short."""
    text = ", ".join(ascii(name)[1:-1][:40] for name in names[:10])
    return text + (f" and {len(names) - 10} more" if len(names) > 10 else "")


def file_columns(
    con: duckdb.DuckDBPyConnection, spec: FeedSpec, path: Path, staged: Staged
) -> list[str]:
    """The columns a file carries, read cheaply (its first line, see ingest/landing.py);
    raises FileRejected if it cannot be read. Compared with the catalogue in Python only."""
    if not staged.first_line:
        raise FileRejected("file is empty")
    if spec.format == "csv":
        return header_columns(staged.first_line)
    if spec.format == "jsonl":
        try:
            rows = execute(
                con,
                f"""
                select distinct unnest(json_keys(object)) from (
                    select {JSON_OBJECT} as object from {jsonl_reader([path])}
                ) where object is not null
                """,
            ).fetchall()
        except duckdb.Error as error:
            raise FileRejected(f"cannot be parsed as jsonl: {first_line(error)}") from error
        finally:
            clear_rejects(con)
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


def jsonl_keys(con: duckdb.DuckDBPyConnection, paths: list[Path]) -> dict[str, list[str]]:
    """The keys of every JSON Lines file (by the path read) in one scan (one query per file
    cost ~50 ms each, 20 s for a year of a daily feed). Files it cannot settle (empty,
    unreadable, no object: absent from the result) are read one by one by file_columns,
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
                    select filename, {JSON_OBJECT} as object from {jsonl_reader(readable)}
                ) where object is not null
            ) group by filename
            """,
        ).fetchall()
    except duckdb.Error:
        return {}  # each file read alone by file_columns, which says which one and why
    finally:
        # Start the load's own scans with empty reject tables (see readers.clear_rejects).
        clear_rejects(con)
    return {path: keys for path, keys in rows}


def group_by_columns(batch: Batch, candidates: list[FileOutcome]) -> None:
    """Each candidate file's columns checked against the catalogue: one missing a column
    is rejected, the others join `batch.groups` under the columns they are read by (CSV:
    by position, so files with their columns in another order are another group)."""
    spec = batch.spec
    groups: dict[tuple[str, ...], list[FileOutcome]] = defaultdict(list)
    expected = spec.column_names
    keys = {}
    if spec.format == "jsonl":
        keys = jsonl_keys(batch.con, [o.path for o in candidates])
    for outcome in candidates:
        try:
            columns = keys.get(str(outcome.path)) or file_columns(
                batch.con, spec, outcome.path, outcome.staged
            )
            missing = [name for name in expected if name not in columns]
            if missing:
                raise FileRejected(
                    f"missing column(s) {', '.join(missing)}; expected {', '.join(expected)}"
                )
            key = declared_columns(spec, columns) if spec.format == "csv" else ()
        except FileRejected as error:
            outcome.status, outcome.reason = "quarantined", str(error)
            batch.rejected.append(outcome)
            continue
        extra = [name for name in columns if name not in expected]
        if extra:
            outcome.reason = f"extra column(s) ignored: {shown(extra)}"
        groups[key].append(outcome)
    batch.groups = groups
