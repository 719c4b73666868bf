"""The same dbt project on Apache Spark (profiles.yml's `spark` target, a local PySpark
session), chosen by one setting: on a week of real feeds, every table the feature pipeline
builds on Spark equals DuckDB's row for row, and a corrected file replaces its day on both
engines alike (Spark's insert_overwrite by date partition, DuckDB's delete+insert by date)."""

from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from ingest.settings import Settings
from ingest.windows import dbt_window_env
from tests.conftest import run_dbt

pytestmark = pytest.mark.e2e  # three Spark sessions (a JVM each): `make test`, not test-fast

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


def digests(duckdb_home: Settings, spark_home: Settings) -> dict[str, tuple[tuple, tuple]]:
    """Each table's digest as DuckDB built it in one home and as Spark built it in another."""
    con = duckdb.connect(str(duckdb_home.warehouse), read_only=True)
    try:
        return {
            table: (
                relation_digest(con, table),
                relation_digest(con, spark_table(spark_home, table)),
            )
            for table in TABLES
        }
    finally:
        con.close()


def ingest(home: Settings) -> None:
    from ingest.load.loader import ingest_all
    from ingest.warehouse import connect

    con = connect(home.warehouse)
    try:
        ingest_all(con, home.landing, home.quarantine)
    finally:
        con.close()


def correct_actuals(home: Settings, day: str) -> None:
    """A corrected actuals file for `day`: every flight arrived 30 minutes later."""
    corrected = home.landing / "actuals" / f"{day}.csv"
    actuals = pd.read_csv(corrected, dtype=str, keep_default_na=False)
    delays = pd.to_numeric(actuals.arr_delay, errors="coerce")
    actuals["arr_delay"] = (delays + 30).astype("Int64").astype(str).replace("<NA>", "")
    actuals.to_csv(corrected, index=False)


def test_the_feature_pipeline_on_spark_builds_what_duckdb_builds_and_takes_a_correction_alike(
    tmp_path: Path, source, dbt_manifest, monkeypatch, capsys
):
    """DuckDB's side by the loader and dbt by hand; Spark's by the feature pipeline in
    Dagster with FLIGHTLINE_ENGINE=spark, the one setting: its ingest assets copy the raw
    tables for Spark, its dbt assets build on the spark target."""
    # Here, not at import: `make test-fast` deselects this file without a skip to report.
    pytest.importorskip("pyspark", reason="the Spark engine's packages: make install-spark")
    from ingest.provider.export import export_feeds
    from orchestration.runner import RunOptions, run_pipeline

    on_duckdb = Settings(home=tmp_path / "duckdb")
    on_spark = Settings(home=tmp_path / "spark")
    for home in (on_duckdb, on_spark):
        export_feeds(home.landing, until=date(2013, 1, 7), source=source)
    ingest(on_duckdb)
    run_dbt(on_duckdb, *BUILD)

    monkeypatch.setenv("FLIGHTLINE_HOME", str(on_spark.home))
    monkeypatch.setenv("DAGSTER_HOME", str(on_spark.dagster_home))

    def feature_pipeline_on_spark() -> str:
        with monkeypatch.context() as spark:
            spark.setenv("FLIGHTLINE_ENGINE", "spark")
            assert run_pipeline(on_spark, RunOptions(train=False, score=False)) == 0
        return capsys.readouterr().out

    out = feature_pipeline_on_spark()
    assert "feature_pipeline run" in out and "dbt_daily_models" in out

    built = digests(on_duckdb, on_spark)
    assert built["marts.fct_flights"][0][0] > 6000
    for table, (duckdb_rows, spark_rows) in built.items():
        assert spark_rows == duckdb_rows, f"{table}: Spark's rows differ from DuckDB's"

    # The 5th's actuals are corrected in both homes. The loader replaces the day; a build
    # over that window (the next feature run, on Spark) replaces it on each engine alike.
    for home in (on_duckdb, on_spark):
        correct_actuals(home, "2013-01-05")
    ingest(on_duckdb)
    run_dbt(on_duckdb, *BUILD, environment=dbt_window_env("2013-01-05", "2013-01-05"))
    assert "flight dates 2013-01-05 .. 2013-01-05" in feature_pipeline_on_spark()

    rebuilt = digests(on_duckdb, on_spark)
    for table, (duckdb_rows, spark_rows) in rebuilt.items():
        assert spark_rows == duckdb_rows, f"{table} after the correction: Spark differs"
    assert rebuilt["marts.fct_flights"][0] != built["marts.fct_flights"][0]
    assert rebuilt["marts.fct_flights"][0][0] == built["marts.fct_flights"][0][0]
    late = duckdb.execute(
        f"select avg(is_delayed::int) from {spark_table(on_spark, 'marts.fct_flights')} "
        "where flight_date = '2013-01-05' and has_actuals"
    ).fetchone()[0]
    assert late > 0.5  # 30 minutes later: most of the day's flights are now late
