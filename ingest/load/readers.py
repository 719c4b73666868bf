"""The SQL of DuckDB's readers for a load: CSV typed by the catalogue with the rejects table,
JSON Lines and Parquet as text then cast, and what a rejected or untypable record says.

Nothing from a data file becomes SQL text here: paths go through sql_paths (flightline's own
paths, escaped), CSV columns are declared under the catalogue's names by position
(headers.declared_columns), and values are read, never written into a statement.
"""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.catalog import FeedSpec
from ingest.load.numbering import numbered
from ingest.warehouse import execute, quote_name, sql_paths, sql_string

# Unit separator: never appears in a JSON Lines record, so each line reads as one text column.
JSONL_DELIMITER = "\x1f"

# The line when it is a JSON object, else null. CASE evaluates per row, where AND does not
# short-circuit in DuckDB's vectorised execution: json_type() on a malformed line raises.
JSON_OBJECT = (
    "case when json_valid(line) then case when json_type(line) = 'OBJECT' then line end end"
)


def jsonl_reader(paths: list[Path]) -> str:
    return (
        f"read_csv({sql_paths(paths)}, columns={{'line': 'VARCHAR'}}, "
        f"header=false, delim='{JSONL_DELIMITER}', quote='', escape='', filename=true, "
        "auto_detect=false, store_rejects=true, rejects_table='_rejects', "
        "rejects_scan='_rejects_scan')"
    )


def csv_reader(
    paths: list[Path], columns: tuple[str, ...], spec: FeedSpec, rejects: bool = True
) -> str:
    """DuckDB's CSV reader with the file's columns by position (headers.declared_columns:
    the catalogue's names and `_extra_<n>`, never the header's text) and the catalogue's
    types, no sniffing: with `rejects`, a value that is not of its column's type, a short or
    long line, bad UTF-8 go to the rejects table (see reader_rejects) and the rest is read
    in one typed pass; without, the first such line fails the read. Sniffing each file cost
    twice the read itself (~2 s of ~3 s for the 2013 year's two CSV feeds)."""
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


def text_select(spec: FeedSpec, paths: list[Path], scans: int = 1) -> str:
    """SQL selecting every record of JSON Lines or Parquet files as text: the spec's columns,
    _source_file (the landed file, through _batch_files), _row_number (numbering.py),
    _is_object and, for JSON Lines, _raw (the line). CSV files are read typed instead
    (insert.py)."""
    names = spec.column_names
    if spec.format == "jsonl":
        fields = ", ".join(
            f"case when _is_object then json_extract_string(line, "
            f"{sql_string('$.' + quote_name(name))}) end as {quote_name(name)}"
            for name in names
        )
        read = (
            f"select {fields}, _read_path, _row_number, line as _raw, _is_object from ("
            f"select *, {JSON_OBJECT} is not null as _is_object "
            # A blank line reads as a null line: not a record (as JSON Lines readers skip
            # it, and as ingest/landing.py counts), numbered all the same.
            f"from ({numbered(jsonl_reader, paths, scans)}) where line is not null)"
        )
    else:
        fields = ", ".join(
            f"cast({quote_name(name)} as varchar) as {quote_name(name)}" for name in names
        )
        # Parquet numbers its rows itself (file_row_number): exact, and no scan to order.
        read = (
            f"select {fields}, filename as _read_path, file_row_number + 1 as _row_number, "
            f"true as _is_object from read_parquet({sql_paths(paths)}, "
            "filename=true, union_by_name=true, file_row_number=true)"
        )
    return (
        "select text.* exclude (_read_path), files._source_file "
        f"from ({read}) as text join _batch_files as files using (_read_path)"
    )


def record_json(spec: FeedSpec) -> str:
    """A record as JSON text, what ingest.quarantined_rows keeps of a rejected row (a JSON
    Lines row rejected before it was typed keeps its line). Computed only for the rows
    quarantined: serialising every row of a year cost more than reading it."""
    fields = ", ".join(f'"{n}" := "{n}"' for n in spec.column_names)
    return f"to_json(struct_pack({fields}))::varchar"


def type_reason_sql(spec: FeedSpec) -> str:
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


def reader_rejects(spec: FeedSpec) -> str:
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


def first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def clear_rejects(con: duckdb.DuckDBPyConnection) -> None:
    """DuckDB appends every scan's rejects to the same tables: start each scan empty, or a
    second scan in this connection would count the first one's rejects again."""
    execute(con, "drop table if exists _rejects")
    execute(con, "drop table if exists _rejects_scan")
