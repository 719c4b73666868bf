"""Every table the Python side of flightline owns in the warehouse, created from its one
declaration: dbt's sources (dbt_project/models/*/_*__sources.yml, read by ingest/sources.py),
which dbt reads too; dbt builds everything else.

- raw.<feed>: one per catalogued feed (ingest/catalog.py), with the load's columns;
- ingest.file_log, ingest.quarantined_rows, ingest.accepted_files: the loader's books;
- ml.model_registry (ml/registry.py), ml.predictions (ml/scoring.py), ml.feature_drift
  (ml/drift.py): written by the ML steps.

`ensure_tables` creates what is missing, and adds to a table made by an older flightline the
columns declared since (with their `default`), on every writable connection
(ingest/warehouse.connect). So a warehouse that holds raw tables holds all of these too: dbt
needs no copy of them (its first hook stops a build on a warehouse without raw tables).
Changing a table: declare the column in its sources YAML; a column is never renamed or
dropped there (an existing warehouse would keep the old one).
"""

from __future__ import annotations

import duckdb

from ingest.catalog import FEEDS, FeedSpec
from ingest.sources import INGEST_YAML, ML_YAML, Column, source_tables
from ingest.warehouse import quote_name

REGISTRY = "ml.model_registry"
PREDICTIONS = "ml.predictions"
FEATURE_DRIFT = "ml.feature_drift"

# What the loader adds to every feed's columns in raw.<feed> (the ops source's description
# says what each holds).
LOAD_COLUMNS = (
    Column("_source_file", "VARCHAR"),
    Column("_content_hash", "VARCHAR"),
    Column("_row_number", "BIGINT"),
    Column("_loaded_at", "TIMESTAMPTZ"),
    Column("_batch_id", "VARCHAR"),
)


def _owned_tables() -> dict[str, tuple[Column, ...]]:
    """Every owned table's columns by `<schema>.<table>`, the loader's books first."""
    tables = {table.relation: table.columns for table in source_tables(INGEST_YAML)}
    tables.update((table.relation, table.columns) for table in source_tables(ML_YAML))
    return tables


def _definition(column: Column, constrained: bool = True) -> str:
    """A column's definition. Not `constrained`: for a column added to an existing table
    (its rows have no value), and in raw.<feed>, where `required` is the loader's check, not
    the table's (it inserts a file's rows, then moves the ones that fail to quarantine)."""
    text = f"{quote_name(column.name)} {column.type}"
    if column.required and constrained:
        text += " not null"
    if column.primary_key and constrained:
        text += " primary key"
    if column.default is not None:
        text += f" default {column.default}"
    return text


# How DuckDB names the types the declarations spell otherwise (pragma_table_info).
_SPELLED = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE", "INT": "INTEGER", "BOOL": "BOOLEAN"}


def _quoted(relation: str) -> str:
    return ".".join(quote_name(part) for part in relation.split("."))


def _ensure(con, relation: str, columns: tuple[Column, ...], constrained: bool = True) -> None:
    """Create `relation`, or add the declared columns it lacks; a column the warehouse
    holds with another type than declared stops here (declarations never retype)."""
    body = ", ".join(_definition(column, constrained) for column in columns)
    con.execute(f"create table if not exists {_quoted(relation)} ({body})")
    # pragma_table_info, not duckdb_columns(): every connection makes sure of these tables,
    # and on a new connection the first listing of the catalogue costs ~10 ms, a statement
    # like this one ~0.3 ms.
    existing = dict(
        con.execute("select name, type from pragma_table_info(?)", [_quoted(relation)]).fetchall()
    )
    for column in columns:
        held = existing.get(column.name)
        if held is None:
            con.execute(
                f"alter table {_quoted(relation)} add column if not exists "
                f"{_definition(column, False)}"
            )
        elif held != _SPELLED.get(column.type, column.type):
            raise RuntimeError(
                f"the warehouse's {relation}.{column.name} is {held}, its declaration says "
                f"{column.type}: a declared column keeps its type (declare a new column)"
            )


def ensure_table(con: duckdb.DuckDBPyConnection, relation: str) -> None:
    """The owned table `relation` (REGISTRY, PREDICTIONS, FEATURE_DRIFT), made or brought up
    to date: for a step that writes it on a connection of its own."""
    con.execute(f"create schema if not exists {quote_name(relation.split('.')[0])}")
    _ensure(con, relation, _owned_tables()[relation])


def ensure_tables(con: duckdb.DuckDBPyConnection, feeds: tuple[FeedSpec, ...] = FEEDS) -> None:
    for schema in ("raw", "ingest", "ml"):
        con.execute(f"create schema if not exists {schema}")
    for relation, columns in _owned_tables().items():
        _ensure(con, relation, columns)
    for spec in feeds:
        _ensure(con, spec.table, (*spec.columns, *LOAD_COLUMNS), constrained=False)
    _relative_source_files(con, feeds)


# `<anything>/landing/<folder>/<name>` -> `<folder>/<name>`: every landed file is one folder
# deep (a feed's, or `reference`), and a name holds no `/`.
_LANDED = r"^.*/landing/([^/]+/[^/]+)$"


def _relative_source_files(con: duckdb.DuckDBPyConnection, feeds: tuple[FeedSpec, ...]) -> None:
    """Warehouses written before source files were recorded relative to landing/ (absolute
    paths): rewrite them once, in one transaction, so their files are not new again."""
    # On every writable connection: stop at the first such row instead of counting them.
    (absolute,) = con.execute(
        "select exists (select 1 from ingest.file_log where regexp_matches(source_file, ?))",
        [_LANDED],
    ).fetchone()
    if not absolute:
        return
    con.execute("begin transaction")
    try:
        tables = [("ingest.file_log", "source_file"), ("ingest.quarantined_rows", "source_file")]
        tables += [(spec.table, "_source_file") for spec in feeds]
        for table, column in tables:
            con.execute(
                f"update {table} set {column} = regexp_replace({column}, ?, '\\1') "
                f"where regexp_matches({column}, ?)",
                [_LANDED, _LANDED],
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
