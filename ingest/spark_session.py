"""The Spark engine as the Python steps see it: a PySpark session over the tables that dbt
built on Spark (features.flight_features, the evaluation's ml tables) and the one the scoring
writes (ml.predictions), behind the few calls of a DuckDB connection those steps make.

The training set, the scoring gate, the scoring, the drift measure and the checks read their
rows with SQL that runs on both engines (`?` parameters, `x::date`, `group by all`,
`filter (where ...)`: Spark 4 reads them as DuckDB does). With FLIGHTLINE_ENGINE=spark they
are handed a `SparkSql` in place of the warehouse connection (orchestration/resources.py,
`WarehouseResource.data`); the registry, the ingest log and the drift results stay in the
DuckDB warehouse, the pipeline's small control tables.

The local session keeps its catalogue in memory: dbt's Derby metastore (profiles.yml) is a
database one JVM at a time may open, and dbt runs in a process of its own. The two tables
are declared here over their folders, as dbt declares the raw ones
(macros/require_raw_tables.sql), and their date partitions found again at each session. On a
cluster the session is the cluster's and the tables its catalogue's (docs/spark.md).

(A DuckDB connection and this adapter are asked the same SQL; the text is the code's own,
never a data file's. Where a name is the data directory's, it is quoted as a literal.)
"""

from __future__ import annotations

import functools
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

from ingest.settings import Settings
from ingest.tables import PREDICTIONS_DDL
from ingest.warehouse import quote_name, sql_glob

if TYPE_CHECKING:  # pyspark is the optional `spark` extra
    from pyspark.sql import DataFrame, SparkSession

PREDICTIONS_TABLE = "ml.predictions"

# DuckDB's types as Spark spells them: `timestamp` is a wall-clock value on both (the session
# reads `timestamp` as TIMESTAMP_NTZ), `timestamptz` an instant.
_SPARK_TYPES = {
    "VARCHAR": "string",
    "DATE": "date",
    "DOUBLE": "double",
    "BOOLEAN": "boolean",
    "BIGINT": "bigint",
    "INTEGER": "int",
    "TIMESTAMP": "timestamp_ntz",
    "TIMESTAMP WITH TIME ZONE": "timestamp_ltz",
}


@functools.cache
def predictions_schema() -> str:
    """ml.predictions' columns for Spark, from its one definition (ingest/tables.py)."""
    con = duckdb.connect()
    try:
        con.execute(PREDICTIONS_DDL)
        columns = con.execute("describe ml.predictions").fetchall()
    finally:
        con.close()
    return ", ".join(f"{name} {_SPARK_TYPES[kind]}" for name, kind, *_ in columns)


def predictions_path(settings: Settings) -> Path:
    """ml.predictions' folder: written by the scoring, one folder per flight date; dbt's
    spark target declares its source over the same folder."""
    return settings.spark / "ml" / "predictions"


def _spark_folders(settings: Settings) -> dict[str, Path]:
    """Each table on Spark (dbt's `<schema>.db/<table>` and ml.predictions) by name, with
    its folder; only names that are identifiers (no other folder is a table of flightline's)."""
    folders = {
        f"{folder.parent.name.removesuffix('.db')}.{folder.name}": folder
        for folder in sorted((settings.spark / "warehouse").glob("*.db/*/"))
        if folder.name.isidentifier() and folder.parent.name.removesuffix(".db").isidentifier()
    }
    folders[PREDICTIONS_TABLE] = predictions_path(settings)
    return folders


def duckdb_over_spark(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with a view per Spark table over its Parquet files (the date
    partitions as a column): what the CLI's report and the dbt assets' row counts read,
    without starting a JVM. A table without files yet (a view, an empty table) has none."""
    con = duckdb.connect()
    for name, folder in _spark_folders(settings).items():
        if not folder.is_dir() or next(folder.rglob("*.parquet"), None) is None:
            continue
        schema, table = (quote_name(part) for part in name.split("."))
        con.execute(f"create schema if not exists {schema}")
        con.execute(
            f"create view {schema}.{table} as select * from "
            f"read_parquet({sql_glob(folder, '**/*.parquet')}, hive_partitioning = true)"
        )
    return con


def table_counts(settings: Settings) -> list[tuple[str, int]]:
    """Rows of each table on Spark, from their Parquet files (`duckdb_over_spark`)."""
    con = duckdb_over_spark(settings)
    try:
        views = con.execute(
            "select schema_name || '.' || view_name from duckdb_views() "
            "where not internal order by 1"
        ).fetchall()
        return [
            (name, con.execute(f"select count(*) from {name}").fetchone()[0]) for (name,) in views
        ]
    finally:
        con.close()


def spark_session(settings: Settings) -> SparkSession:
    """The local session, configured as profiles.yml's spark target configures dbt's (the
    same environment variables and defaults): one per process, made at the first call."""
    # PySpark 4 warns on every conversion that it "does not yet fully support pandas >= 3":
    # the conversions flightline makes are proved equal to DuckDB's (tests/spark), so an
    # operator's output does not carry it (pyproject's filterwarnings does the same in tests).
    warnings.filterwarnings(
        "ignore", "PySpark does not yet fully support pandas", category=FutureWarning
    )
    from pyspark.sql import SparkSession

    master = os.environ.get("FLIGHTLINE_SPARK_MASTER", "local[2]")
    if master.startswith("local"):  # one machine: no "hostname resolves to a loopback" warning
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # The Python workers that score (mapInPandas) run this interpreter, with its packages:
    # PySpark's default is the `python3` on the PATH.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    java = os.environ.get(
        "FLIGHTLINE_SPARK_JAVA_OPTIONS", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
    )
    return (
        SparkSession.builder.master(master)
        .appName("flightline")
        .config("spark.driver.memory", os.environ.get("FLIGHTLINE_SPARK_MEMORY", "2g"))
        .config("spark.sql.shuffle.partitions", os.environ.get("FLIGHTLINE_SPARK_PARTITIONS", "4"))
        .config("spark.sql.warehouse.dir", str(settings.spark / "python-warehouse"))
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
        .config("spark.sql.sources.partitionOverwriteMode", "dynamic")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.driver.extraJavaOptions", java)
        .getOrCreate()
    )


class _Result:
    """A query's rows, read the ways the steps read a DuckDB result."""

    def __init__(self, frame: DataFrame) -> None:
        self._frame = frame

    def df(self) -> pd.DataFrame:
        return self._frame.toPandas()

    def fetchall(self) -> list[tuple[Any, ...]]:
        return [tuple(row) for row in self._frame.collect()]

    def fetchone(self) -> tuple[Any, ...] | None:
        rows = self._frame.take(1)
        return tuple(rows[0]) if rows else None

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        frame = self.df()
        return {name: frame[name].to_numpy() for name in frame.columns}


class SparkSql:
    """The calls of a DuckDB connection the feature readers, the scoring and drift make
    (`execute` with `?` parameters, `register` of a pandas frame), on a Spark session."""

    def __init__(self, spark: SparkSession) -> None:
        self.spark = spark

    def execute(self, sql: str, params: list[Any] | None = None) -> _Result:
        return _Result(self.spark.sql(sql, args=list(params or [])))

    def register(self, name: str, frame: pd.DataFrame) -> None:
        self.spark.createDataFrame(frame).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        self.spark.catalog.dropTempView(name)

    def refresh_predictions(self) -> None:
        """After ml.predictions' folders changed: the table's date partitions found again."""
        self.spark.catalog.refreshTable(PREDICTIONS_TABLE)
        self.spark.catalog.recoverPartitions(PREDICTIONS_TABLE)


def open_spark(settings: Settings) -> SparkSql:
    """The session, with the tables declared over their folders as they are now: every
    table dbt built on Spark (its warehouse directory's `<schema>.db/<table>/`) and
    ml.predictions."""
    spark = spark_session(settings)
    # dbt's folders (`<schema>.db/<table>`, identifiers only: `_spark_folders`).
    built = {
        table: folder
        for table, folder in _spark_folders(settings).items()
        if table != PREDICTIONS_TABLE
    }
    for database in sorted({table.split(".")[0] for table in built} | {"ml"}):
        spark.sql(f"create database if not exists {database}")
    for table, folder in built.items():
        # Declared again at each call: a full rebuild by dbt may have changed its columns,
        # and dropping a table declared over a folder leaves the folder alone.
        spark.sql(f"drop table if exists {table}")
        spark.catalog.createTable(table, path=str(folder), source="parquet")
        if any("=" in child.name for child in folder.iterdir() if child.is_dir()):
            spark.catalog.recoverPartitions(table)  # the folder per date of an incremental model
    if not spark.catalog.tableExists(PREDICTIONS_TABLE):
        path = predictions_path(settings)
        path.mkdir(parents=True, exist_ok=True)
        # DDL, as the catalogue's createTable() declares no partition column. The path is
        # the data directory's (a setting, never a data file's), quoted as a literal.
        location = str(path).replace("\\", "\\\\").replace("'", "\\'")
        spark.sql(
            f"create table {PREDICTIONS_TABLE} ({predictions_schema()}) using parquet "
            f"partitioned by (flight_date) location '{location}'"
        )
    sql = SparkSql(spark)
    sql.refresh_predictions()
    return sql
