"""The Spark engine as the Python steps see it: a PySpark session over the tables that dbt
built on Spark (features.flight_features, the evaluation's ml tables) and the one the scoring
writes (ml.predictions), behind the few calls of a DuckDB connection those steps make.

The training set, the scoring gate, the scoring, the drift measure and the checks read their
rows with SQL that runs on both engines (`?` parameters, `x::date`, `group by all`,
`filter (where ...)`: Spark 4 reads them as DuckDB does). With FLIGHTLINE_ENGINE=spark they
are handed a `SparkSql` in place of the warehouse connection (orchestration/resources.py,
`WarehouseResource.data`); the registry, the ingest log and the drift results stay in the
DuckDB warehouse, the pipeline's small control tables.

On one machine every session, dbt's and the steps', is a client of one Spark Connect server
per data directory (PySpark's persistent local server, started by the first caller): one JVM
whose catalogue is dbt's Derby metastore, shared by all, instead of a JVM started in every
dbt invocation and every step. With FLIGHTLINE_SPARK_SERVER=0 each process starts its own
JVM, and the steps' catalogue is in memory (Derby is a database one JVM at a time may open):
the tables are declared here over their folders, as dbt declares the raw ones
(macros/require_raw_tables.sql), and their date partitions found again at each session. On a
cluster the session is the cluster's and the tables its catalogue's (docs/spark.md).

(A DuckDB connection and this adapter are asked the same SQL; the text is the code's own,
never a data file's. Where a name is the data directory's, it is quoted as a literal.)
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import pandas as pd

from ingest.settings import Settings
from ingest.spark_server import (
    connect_discovery,
    quiet_spark_warnings,
    running_server,
    set_environment,
    spark_environment,
    uses_connect_server,
)
from ingest.tables import PREDICTIONS, ensure_table
from ingest.warehouse import quote_name, sql_glob

if TYPE_CHECKING:  # pyspark is the optional `spark` extra
    from pyspark.sql import DataFrame, SparkSession


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
    """ml.predictions' columns for Spark, from its one declaration (its dbt source, made a
    table by ingest/tables.py)."""
    con = duckdb.connect()
    try:
        ensure_table(con, PREDICTIONS)
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
    folders[PREDICTIONS] = predictions_path(settings)
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


QUICK_JIT = "-XX:TieredStopAtLevel=1 -XX:ReservedCodeCacheSize=240m -XX:+UseSerialGC"
"""The JVM's options for local Spark (profiles.yml's default too): the quick JIT (C1) only,
one GC thread, and C1's code cache at the size the full JIT gets. Spark's statements run
once each, and the optimising JIT (C2) spent 73 of the Connect server's 128 s of CPU in the
Spark test compiling them. But C1 alone gets a 48 MB code cache (Java 17's default for
TieredStopAtLevel=1), Spark's code fills it, and the code cache sweeper flushed and C1
compiled again: 51 s of CPU, the test no faster than with C2. With 240 MB: the server's CPU
64-71 s, the test's 144-169 s against 205-225 s (docs/spark.md has the runs). A server
keeps the options it started with (`flightline spark stop` to change them). A long job (the
benchmark's 10M) sets FLIGHTLINE_SPARK_JAVA_OPTIONS="" for the full JIT."""


def _spark_conf(settings: Settings) -> dict[str, str]:
    """The session's settings: profiles.yml's spark target's (the same environment variables
    and defaults), which start the Connect server when flightline starts it (dbt starting it,
    by hand, passes the profile's). Python workers are not reused by the server: a
    long-lived worker would keep the flightline code it imported first (the scoring's
    `predict`). The JIT: `QUICK_JIT`, for the server as for a JVM of the process's own."""
    server = uses_connect_server()
    java = os.environ.get("FLIGHTLINE_SPARK_JAVA_OPTIONS", QUICK_JIT)
    return {
        "spark.sql.warehouse.dir": str(settings.spark / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            "jdbc:derby:;databaseName=metastore_db;create=true"
        ),
        "spark.driver.memory": os.environ.get("FLIGHTLINE_SPARK_MEMORY", "2g"),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={settings.spark} {java}",
        "spark.sql.shuffle.partitions": os.environ.get("FLIGHTLINE_SPARK_PARTITIONS", "4"),
        "spark.sql.session.timeZone": "UTC",
        "spark.sql.timestampType": "TIMESTAMP_NTZ",
        "spark.sql.sources.partitionOverwriteMode": "dynamic",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.python.worker.reuse": "false" if server else "true",
    }


_connected: tuple[int, int] | None = None
"""The server this process's session is a client of (`spark_session`)."""


def spark_session(settings: Settings) -> SparkSession:
    """The process's session (made at the first call): a client of the data directory's
    Connect server, which shares dbt's catalogue (`uses_connect_server`); else a JVM of
    its own, whose catalogue is in memory (dbt's Derby metastore is a database one JVM at a
    time may open) and whose tables `open_spark` declares over their folders."""
    global _connected
    server = uses_connect_server()
    if not server and running_server(settings) is not None:
        raise RuntimeError(
            f"FLIGHTLINE_SPARK_SERVER=0, but {settings.home}'s Spark Connect server holds the "
            "metastore (Derby takes one JVM at a time): `flightline spark stop` first"
        )
    quiet_spark_warnings()
    from pyspark.sql import SparkSession

    environment = spark_environment(settings)
    set_environment({k: v for k, v in environment.items() if k != "PYTHONWARNINGS"})
    conf = _spark_conf(settings)
    builder = SparkSession.builder.appName("flightline")
    if server:
        connect_discovery(settings).parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # A session made before the server stopped (or was replaced) would keep talking to
        # the old port: PySpark's getOrCreate() returns it while it starts a new server.
        session = SparkSession.getActiveSession()
        if (
            session is not None
            and _connected is not None
            and running_server(settings) != _connected
        ):
            session.stop()
        builder = builder.enableHiveSupport()  # dbt's catalogue: the server's metastore
    else:
        builder = builder.master(os.environ.get("FLIGHTLINE_SPARK_MASTER", "local[2]"))
        conf["spark.sql.warehouse.dir"] = str(settings.spark / "python-warehouse")
        del conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    if server:
        _connected = running_server(settings)
    return session


class _Result:
    """A query's rows, read the ways the steps read a DuckDB result."""

    def __init__(self, frame: DataFrame) -> None:
        self._frame = frame

    def df(self) -> pd.DataFrame:
        frame = self._frame.toPandas()
        # Spark Connect's toPandas() leaves the query's plan metrics in `attrs`, which
        # pandas' to_parquet cannot write (the training set is saved as Parquet).
        frame.attrs.clear()
        return frame

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
        self.spark.catalog.refreshTable(PREDICTIONS)
        self.spark.catalog.recoverPartitions(PREDICTIONS)


def open_spark(settings: Settings) -> SparkSql:
    """The session, seeing every table dbt built on Spark and ml.predictions as they are
    now: through the Connect server's metastore, dbt's own catalogue (the tables'
    cached file lists refreshed); in a JVM of its own, declared over their folders (its
    warehouse directory's `<schema>.db/<table>/`)."""
    spark = spark_session(settings)
    # dbt's folders (`<schema>.db/<table>`, identifiers only: `_spark_folders`).
    built = {
        table: folder for table, folder in _spark_folders(settings).items() if table != PREDICTIONS
    }
    for database in sorted({table.split(".")[0] for table in built} | {"ml"}):
        spark.sql(f"create database if not exists {database}")
    in_memory = spark.conf.get("spark.sql.catalogImplementation") == "in-memory"
    for table, folder in built.items():
        if not in_memory:
            # dbt's managed tables: never dropped here (their files would go with them).
            if spark.catalog.tableExists(table):
                spark.catalog.refreshTable(table)
            continue
        # Declared again at each call: a full rebuild by dbt may have changed its columns,
        # and dropping a table declared over a folder leaves the folder alone.
        spark.sql(f"drop table if exists {table}")
        spark.catalog.createTable(table, path=str(folder), source="parquet")
        if any("=" in child.name for child in folder.iterdir() if child.is_dir()):
            spark.catalog.recoverPartitions(table)  # the folder per date of an incremental model
    if not spark.catalog.tableExists(PREDICTIONS):
        path = predictions_path(settings)
        path.mkdir(parents=True, exist_ok=True)
        # DDL, as the catalogue's createTable() declares no partition column. The path is
        # the data directory's (a setting, never a data file's), quoted as a literal.
        location = str(path).replace("\\", "\\\\").replace("'", "\\'")
        spark.sql(
            f"create table {PREDICTIONS} ({predictions_schema()}) using parquet "
            f"partitioned by (flight_date) location '{location}'"
        )
    sql = SparkSql(spark)
    sql.refresh_predictions()
    return sql
