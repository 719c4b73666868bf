"""The tables flightline writes outside dbt, as dbt's sources declare them: the one declaration
of each (dbt_project/models/*/_*__sources.yml). The feed catalog (ingest/catalog.py) and the
warehouse's own tables (ingest/tables.py) are read from here; dbt reads the same files.

A column is `name`, `data_type` (DuckDB's type) and, under `config.meta`, `required: true`
(never null: `not null` in the table, and a feed's row without it is quarantined),
`primary_key: true` and `default` (the value a column added to an existing table takes: a
literal, `false`, `0` or `'text'`). A column is never renamed, retyped or dropped there (an
existing warehouse keeps what it has: ingest/tables.py refuses a type it does not hold); a new
one goes last. These files become SQL: every name, type and default is checked against the
shapes above before any is used.
flightline's own keys sit under `config.meta` because dbt (1.10 on) warns about any key it
does not know and about `meta` outside `config`; it keeps `config.meta` in the manifest as it is.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ingest.settings import DBT_PROJECT_DIR

# Which file declares which of dbt's sources.
FEEDS_YAML = DBT_PROJECT_DIR / "models" / "staging" / "_ops__sources.yml"
INGEST_YAML = DBT_PROJECT_DIR / "models" / "staging" / "_ingest__sources.yml"
ML_YAML = DBT_PROJECT_DIR / "models" / "ml" / "_ml__sources.yml"

# libyaml's loader where PyYAML was built with it (~10x the pure-Python one).
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

_NAME = re.compile(r"[a-z_][a-z0-9_]*")
_TYPE = re.compile(r"[a-z][a-z0-9_]*(\[\])?")
_DEFAULT = re.compile(r"true|false|-?[0-9]+(\.[0-9]+)?|'[^']*'")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool = False
    primary_key: bool = False
    default: str | None = None


@dataclass(frozen=True)
class SourceTable:
    """One table of a dbt source: `<schema>.<name>`."""

    schema: str
    name: str
    description: str
    columns: tuple[Column, ...]
    meta: dict[str, Any]

    @property
    def relation(self) -> str:
        return f"{self.schema}.{self.name}"


def _meta(entry: dict[str, Any]) -> dict[str, Any]:
    return (entry.get("config") or {}).get("meta") or {}


def _checked(pattern: re.Pattern, value: object, what: str, path: Path) -> str:
    text = str(value)
    if not pattern.fullmatch(text.lower() if pattern is _TYPE else text):
        raise ValueError(f"{path.name}: {what} {text!r} is not one flightline can declare")
    return text


def _column(entry: dict[str, Any], path: Path) -> Column:
    meta = _meta(entry)
    name = _checked(_NAME, entry.get("name"), "the column name", path)
    if "data_type" not in entry:
        raise ValueError(f"{path.name}: the column {name} declares no data_type")
    default = meta.get("default")
    if isinstance(default, bool):  # YAML's false, not the text "false"
        default = str(default).lower()
    return Column(
        name,
        # Upper case, as DuckDB writes types (a quarantine reason reads "... is not a valid
        # SMALLINT").
        _checked(_TYPE, entry["data_type"], f"the type of {name}", path).upper(),
        required=bool(meta.get("required", False)),
        primary_key=bool(meta.get("primary_key", False)),
        default=None if default is None else _checked(_DEFAULT, default, "a default", path),
    )


@functools.cache
def source_tables(path: Path) -> tuple[SourceTable, ...]:
    """Every table the sources in `path` (a sources YAML) declare, in the file's order."""
    document = yaml.load(path.read_text(), Loader=_LOADER) or {}
    tables = []
    for source in document.get("sources", ()):
        for table in source.get("tables", ()):
            name = _checked(_NAME, table.get("name"), "the table name", path)
            # dbt would read another table than flightline makes (a source's `database` is
            # the profile's one warehouse).
            for moved in ("identifier", "database"):
                if moved in table or moved in source:
                    raise ValueError(f"{path.name}: {name} sets {moved}; flightline cannot")
            tables.append(
                SourceTable(
                    schema=_checked(_NAME, source.get("schema", source["name"]), "schema", path),
                    name=name,
                    description=" ".join(str(table.get("description", "")).split()),
                    columns=tuple(_column(column, path) for column in table.get("columns", ())),
                    meta=_meta(table),
                )
            )
    return tuple(tables)


def source_table(path: Path, relation: str) -> SourceTable:
    """The table `<schema>.<name>` that the sources in `path` declare."""
    for table in source_tables(path):
        if table.relation == relation:
            return table
    raise KeyError(f"{path} declares no source table {relation}")
