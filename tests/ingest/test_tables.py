"""The tables flightline owns are made from their one declaration, dbt's sources: the columns,
types and constraints declared there, and a warehouse made by an older flightline gains the
columns declared since, its rows keeping theirs."""

import re
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from ingest.catalog import FEEDS, FEEDS_BY_NAME, FeedSpec
from ingest.sources import FEEDS_YAML, INGEST_YAML, ML_YAML, source_tables
from ingest.tables import LOAD_COLUMNS, ensure_table, ensure_tables
from ingest.warehouse import connect


def columns(con: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str, bool]]:
    schema, table = relation.split(".")
    return con.execute(
        "select column_name, data_type, is_nullable from duckdb_columns() "
        "where schema_name = ? and table_name = ? order by column_index",
        [schema, table],
    ).fetchall()


def test_every_owned_table_is_its_declaration(tmp_path: Path):
    con = connect(tmp_path / "warehouse.duckdb")
    declared = [*source_tables(INGEST_YAML), *source_tables(ML_YAML)]
    assert {table.relation for table in declared} >= {
        "ingest.file_log",
        "ingest.quarantined_rows",
        "ingest.accepted_files",
        "ml.model_registry",
        "ml.predictions",
        "ml.feature_drift",
    }
    spelled = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
    for table in declared:
        assert columns(con, table.relation) == [
            (column.name, spelled.get(column.type, column.type), not column.required)
            for column in table.columns
        ], table.relation
    # A registered model is one row: its version is the key.
    assert con.execute(
        "select constraint_column_names from duckdb_constraints() "
        "where table_name = 'model_registry' and constraint_type = 'PRIMARY KEY'"
    ).fetchall() == [(["model_version"],)]


def test_raw_tables_are_the_feeds_columns_and_the_loads_without_constraints(tmp_path: Path):
    """A row without a required value is the loader's to quarantine, not the table's to
    refuse (it inserts a file's rows, then moves the failing ones)."""
    con = connect(tmp_path / "warehouse.duckdb")
    assert len(FEEDS) == len(source_tables(FEEDS_YAML)) == 7
    for feed in FEEDS:
        got = columns(con, feed.table)
        assert [name for name, *_ in got] == [*feed.column_names, *(c.name for c in LOAD_COLUMNS)]
        assert all(nullable for *_, nullable in got), feed.table


def test_an_older_warehouse_gains_the_declared_columns_and_keeps_its_rows(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    # As an older flightline made them: predictions before forecast_missing, drift before
    # its recent reference, a feed before its last column.
    con.execute("create schema ml")
    con.execute(
        "create table ml.predictions (flight_id varchar not null, flight_date date not null, "
        "model_version varchar not null, score double not null, predicted_label boolean not "
        "null, threshold double not null, scored_at timestamptz not null)"
    )
    con.execute(
        "insert into ml.predictions values ('f1', '2013-01-02', 'm1', 0.4, false, 0.5, now())"
    )
    con.execute(
        "create table ml.feature_drift (flight_date date, model_version varchar, feature "
        "varchar, kind varchar, psi double, status varchar, window_start date, window_end "
        "date, window_rows bigint, computed_at timestamptz)"
    )
    con.execute("create schema raw")
    airlines = FEEDS_BY_NAME["airlines"]
    con.execute("create table raw.airlines (carrier varchar, _source_file varchar)")
    con.execute("insert into raw.airlines values ('AA', 'reference/airlines.csv')")
    con.close()

    con = connect(path)
    assert con.execute("select flight_id, forecast_missing from ml.predictions").fetchall() == [
        ("f1", False)
    ]
    drift = [name for name, *_ in columns(con, "ml.feature_drift")]
    assert drift[-2:] == ["psi_recent", "alerting"]
    assert {name for name, *_ in columns(con, "raw.airlines")} == {
        *airlines.column_names,
        *(c.name for c in LOAD_COLUMNS),
    }
    assert con.execute("select carrier, name from raw.airlines").fetchall() == [("AA", None)]
    # Once up to date, a connection adds nothing.
    before = columns(con, "ml.predictions")
    ensure_tables(con)
    ensure_table(con, "ml.predictions")
    assert columns(con, "ml.predictions") == before


def test_a_feed_declared_with_a_key_it_does_not_have_says_which_and_why():
    schedules = FEEDS_BY_NAME["schedules"]
    with pytest.raises(ValueError, match="schedules keys on undeclared columns \\['flight_no'\\]"):
        replace(schedules, natural_key=("flight_date", "flight_no"))
    with pytest.raises(ValueError, match="lands as 'xml'"):
        replace(schedules, format="xml")
    assert isinstance(replace(schedules, description="same"), FeedSpec)


def test_a_declaration_that_is_not_a_plain_name_type_or_literal_is_refused(tmp_path: Path):
    """The sources YAML becomes SQL: a name, type or default of another shape never does."""
    column = "{name: %s, data_type: %s, config: {meta: {default: %s}}}"
    cases = {
        ("flight_id; drop table x", "varchar", "null"): "the column name",
        ("flight_id", "varchar) ; drop table x; --", "null"): "the type of flight_id",
        ("flight_id", "varchar", "\"'x' || (select 1)\""): "a default",
    }
    for (name, kind, default), says in cases.items():
        path = tmp_path / "_sources.yml"
        path.write_text(
            "sources: [{name: ml, tables: [{name: t, columns: ["
            + column % (f'"{name}"', f'"{kind}"', default)
            + "]}]}]"
        )
        source_tables.cache_clear()
        with pytest.raises(ValueError, match=says):
            source_tables(path)
    path.write_text("sources: [{name: ml, tables: [{name: t, identifier: other}]}]")
    source_tables.cache_clear()
    with pytest.raises(ValueError, match="t sets identifier"):
        source_tables(path)


def test_a_column_the_warehouse_holds_with_another_type_stops_with_what_to_do(tmp_path: Path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema ingest")
    con.execute("create table ingest.accepted_files (feed integer)")
    con.close()
    with pytest.raises(RuntimeError, match=re.escape("ingest.accepted_files.feed is INTEGER, its")):
        connect(path)
    duckdb.connect(str(path)).close()  # and the refused connection let the file go
