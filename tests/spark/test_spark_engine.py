"""The same dbt project on Apache Spark (profiles.yml's `spark` target, a local PySpark
session): on a week of real feeds, every table Spark builds equals DuckDB's row for row, and
a corrected file replaces its day on both engines alike (Spark's insert_overwrite by date
partition against DuckDB's delete+insert by date)."""

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingest.settings import Settings
from ingest.windows import dbt_window_env
from tests.conftest import run_dbt

pytestmark = pytest.mark.e2e  # two Spark sessions (a JVM each): `make test`, not test-fast
pytest.importorskip("pyspark", reason="the Spark engine's packages: make install-spark")

# Every table the feature pipeline's dbt builds (staging models are views on both engines:
# their rows are the tables'). The ml models read the scoring's tables: not on Spark yet.
TABLES = (
    "marts.fct_flights",
    "marts.fct_weather_hourly",
    "marts.dim_airports",
    "marts.dim_carriers",
    "marts.dim_planes",
    "features.flight_features",
)
BUILD = ("build", "--exclude", "tag:ml", "--exclude-resource-type", "unit_test")


INTEGERS = {"TINYINT": "integer", "SMALLINT": "integer", "INTEGER": "integer", "BIGINT": "integer"}


def relation_digest(con: duckdb.DuckDBPyConnection, relation: str) -> tuple[int, str, list]:
    """(rows, digest, columns) of a relation: an md5 over every row's values in column-name
    order, the rows sorted, floating-point values rounded to 9 decimals (1e-9), null spelled
    out; and the columns' names and types. The same for a DuckDB table and for the Parquet
    files of a Spark table. An integer is an integer whatever its width: where a model does
    not cast (flight_features' calendar columns, counts), DuckDB's hour() or isodow() say
    BIGINT and Spark's INT, for the same values."""
    described = con.execute(f"describe select * from {relation}").fetchall()
    columns = sorted((name, INTEGERS.get(kind, kind)) for name, kind, *_ in described)

    def text(name: str, kind: str) -> str:
        value = f'"{name}"'
        if kind in ("DOUBLE", "FLOAT") or kind.startswith("DECIMAL"):
            value = f"round({value}::double, 9)"
        return f"coalesce(({value})::varchar, '<null>')"

    row = " || '|' || ".join(text(name, kind) for name, kind in columns)
    rows, digest = con.execute(
        f"select count(*), md5(coalesce(string_agg({row}, chr(10) order by {row}), '')) "
        f"from {relation}"
    ).fetchone()
    return rows, digest, columns


def spark_table(home: Settings, table: str) -> str:
    """A Spark table's files as DuckDB reads them (the date partitions as a column)."""
    schema, name = table.split(".")
    folder = home.spark / "warehouse" / f"{schema}.db" / name
    assert folder.is_dir(), f"Spark built no {table} at {folder}"
    return f"read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"


def digests(home: Settings) -> dict[str, tuple[tuple, tuple]]:
    con = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        return {
            table: (relation_digest(con, table), relation_digest(con, spark_table(home, table)))
            for table in TABLES
        }
    finally:
        con.close()


def load(home: Settings) -> None:
    """What the feature pipeline's ingest does, and the raw tables' Parquet copy for Spark."""
    from ingest.load.loader import ingest_all
    from ingest.spark_raw import publish_raw_parquet
    from ingest.warehouse import connect

    con = connect(home.warehouse)
    try:
        ingest_all(con, home.landing, home.quarantine)
        publish_raw_parquet(con, home.spark / "raw")
    finally:
        con.close()


def test_spark_builds_what_duckdb_builds_and_replaces_a_corrected_day_alike(
    tmp_path: Path, source, dbt_manifest
):
    from ingest.provider.export import export_feeds

    home = Settings(home=tmp_path / "home")
    export_feeds(home.landing, until=date(2013, 1, 7), source=source)
    load(home)
    run_dbt(home, *BUILD)
    run_dbt(home, *BUILD, target="spark")
    built = digests(home)
    assert built["marts.fct_flights"][0][0] > 6000
    for table, (on_duckdb, on_spark) in built.items():
        assert on_spark == on_duckdb, f"{table}: Spark's rows differ from DuckDB's"

    # The 5th's actuals are corrected: every flight 30 minutes later. The loader replaces the
    # day; a build over that window replaces it on each engine, and only it.
    corrected = home.landing / "actuals" / "2013-01-05.csv"
    actuals = pd.read_csv(corrected, dtype=str, keep_default_na=False)
    delays = pd.to_numeric(actuals.arr_delay, errors="coerce")
    actuals["arr_delay"] = (delays + 30).astype("Int64").astype(str).replace("<NA>", "")
    actuals.to_csv(corrected, index=False)
    load(home)
    window = dbt_window_env("2013-01-05", "2013-01-05")
    run_dbt(home, *BUILD, environment=window)
    run_dbt(home, *BUILD, environment=window, target="spark")
    rebuilt = digests(home)
    for table, (on_duckdb, on_spark) in rebuilt.items():
        assert on_spark == on_duckdb, f"{table} after the correction: Spark differs from DuckDB"
    assert rebuilt["marts.fct_flights"][0] != built["marts.fct_flights"][0]
    assert rebuilt["marts.fct_flights"][0][0] == built["marts.fct_flights"][0][0]
    con = duckdb.connect()
    late = con.execute(
        f"select avg(is_delayed::int) from {spark_table(home, 'marts.fct_flights')} "
        "where flight_date = '2013-01-05' and has_actuals"
    ).fetchone()[0]
    assert late > 0.5  # 30 minutes later: most of the day's flights are now late
