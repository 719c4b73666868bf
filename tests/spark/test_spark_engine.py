"""The same pipelines on Apache Spark (profiles.yml's `spark` target, a local PySpark
session), chosen by one setting: on a week of real feeds, every table the feature pipeline
builds on Spark equals DuckDB's row for row, the champion trained on Spark's rows is the one
DuckDB's give, its predictions on Spark and their evaluation equal DuckDB's, and a corrected
file replaces its day on both engines alike (Spark's insert_overwrite by date partition,
DuckDB's delete+insert by date)."""

import os
from collections.abc import Iterator
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
# DuckDB's side, the reference rows: its models and seed, not its tests (~3 s of CPU a
# build). Spark's side runs them all; on DuckDB, the week's run in `make dbt-slice`, the
# evaluation models' in the pipelines' tests, a corrected day's in tests/dbt.
BUILD = ("build", "--exclude", "tag:ml", "--exclude-resource-type", "unit_test", "test")
# The evaluation models (tag:ml) over the predictions (scored_at: when, not what).
EVALUATION = ("ml.predictions", "ml.prediction_outcomes", "ml.model_performance_daily")


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
    if table == "ml.predictions":  # written by the scoring, not dbt (ingest/spark_session.py)
        folder = home.spark / "ml" / "predictions"
    assert folder.is_dir(), f"Spark built no {table} at {folder}"
    return f"read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"


def without_scored_at(relation: str) -> str:
    return f"(select columns(lambda c: c != 'scored_at') from {relation})"


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


@pytest.fixture
def on_spark(tmp_path: Path) -> Iterator[Settings]:
    """A data directory for the Spark engine; its Connect server (one JVM for every dbt
    invocation and step, ingest/spark_server.py) stopped at the end, and the environment
    the session set restored."""
    # Here, not at import: `make test-fast` deselects this file without a skip to report.
    pytest.importorskip("pyspark", reason="the Spark engine's packages: make install-spark")
    from ingest.spark_server import set_environment, spark_environment

    home = Settings(home=tmp_path / "spark")
    # What the session sets in this process (and PySpark beside it), restored at the end.
    names = [
        *spark_environment(home),
        "SPARK_CONNECT_MODE_ENABLED",
        "SPARK_CONNECT_AUTHENTICATE_TOKEN",
    ]
    environment = {name: os.environ.get(name) for name in names}
    try:
        yield home
    finally:
        from pyspark.sql import SparkSession

        from ingest.spark_server import stop_connect_server

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()
        stop_connect_server(home)
        set_environment(environment)


def test_the_pipelines_on_spark_build_train_and_score_as_on_duckdb_and_take_a_correction_alike(
    tmp_path: Path, on_spark: Settings, source, dbt_manifest, monkeypatch, capsys
):
    """DuckDB's side by the loader, dbt and the scoring by hand; Spark's by the Dagster
    pipelines with FLIGHTLINE_ENGINE=spark, the one setting: the ingest assets copy the raw
    tables for Spark, the dbt assets build on the spark target, the training set is read
    from Spark, the scoring gate judges Spark's rows, the champion scores on Spark
    (mapInPandas) into Spark's ml.predictions, the evaluation models build there, and drift
    and the retraining decision read them."""
    from ingest.provider.export import export_feeds
    from ingest.spark_server import running_server, uses_connect_server
    from ingest.warehouse import connect
    from ml import registry
    from ml.scoring import score_days
    from ml.selection import fingerprint
    from ml.training import training_set
    from ml.training_config import TrainingConfig
    from orchestration.runner import RunOptions, run_pipeline

    on_duckdb = Settings(home=tmp_path / "duckdb")
    for home in (on_duckdb, on_spark):
        export_feeds(home.landing, until=date(2013, 1, 7), source=source)
    ingest(on_duckdb)
    run_dbt(on_duckdb, *BUILD)

    monkeypatch.setenv("FLIGHTLINE_HOME", str(on_spark.home))
    monkeypatch.setenv("DAGSTER_HOME", str(on_spark.dagster_home))

    def pipelines_on_spark(options: RunOptions) -> str:
        with monkeypatch.context() as spark:
            spark.setenv("FLIGHTLINE_ENGINE", "spark")
            assert run_pipeline(on_spark, options) == 0
        return capsys.readouterr().out

    # Trained on the 1st to the 4th (validated on the 3rd and 4th), scoring the 5th to the 7th.
    config = TrainingConfig(cutoff=date(2013, 1, 5), validation_days=2)
    scored_days = ["2013-01-05", "2013-01-06", "2013-01-07"]
    out = pipelines_on_spark(
        RunOptions(
            cutoff=config.cutoff,
            validation_days=config.validation_days,
            scoring_range=(scored_days[0], scored_days[-1]),
        )
    )
    for run in ("feature_pipeline run", "training_pipeline run", "inference_pipeline run"):
        assert run in out, out
    # One JVM for dbt and the steps, the data directory's Connect server (unless
    # FLIGHTLINE_SPARK_SERVER=0: a JVM in each process).
    assert (running_server(on_spark) is not None) == uses_connect_server()
    # The operator's report reads Spark's tables too (from their files, without a JVM).
    assert "out-of-time ROC AUC" in out and "ml.predictions (Spark)" in out, out

    built = digests(on_duckdb, on_spark)
    assert built["marts.fct_flights"][0][0] > 6000
    for table, (duckdb_rows, spark_rows) in built.items():
        assert spark_rows == duckdb_rows, f"{table}: Spark's rows differ from DuckDB's"

    # The champion trained on the frame Spark gave: the one DuckDB gives, by fingerprint.
    control = connect(on_spark.warehouse)
    try:
        champion = registry.require_champion(control)
        (trained_on,) = control.execute(
            "select data_fingerprint from ml.model_registry where model_version = ?",
            [champion.model_version],
        ).fetchone()
        (on_duckdb_predictions,) = control.execute("select count(*) from ml.predictions").fetchone()
    finally:
        control.close()
    assert on_duckdb_predictions == 0  # Spark's home scored on Spark, not into DuckDB
    con = duckdb.connect(str(on_duckdb.warehouse))
    try:
        assert fingerprint(training_set(con, config)) == trained_on
        # The same champion scores the same days on DuckDB (ml/scoring.py's score_days).
        score_days(con, champion, scored_days)
    finally:
        con.close()
    run_dbt(
        on_duckdb, "build", "--select", "tag:ml", "--exclude-resource-type", "unit_test", "test"
    )
    con = duckdb.connect(str(on_duckdb.warehouse), read_only=True)
    try:
        for table in EVALUATION:
            on_duckdb_rows = relation_digest(con, without_scored_at(table))
            on_spark_rows = relation_digest(con, without_scored_at(spark_table(on_spark, table)))
            assert on_duckdb_rows[0] > (2000 if table != "ml.model_performance_daily" else 2)
            assert on_spark_rows == on_duckdb_rows, f"{table}: Spark's rows differ from DuckDB's"
    finally:
        con.close()

    # The 5th's actuals are corrected in both homes. The loader replaces the day; a build
    # over that window (the next feature run, on Spark) replaces it on each engine alike.
    # Then a retraining (cutoff the 6th): the promotion gate scores the champion on the
    # candidate's validation days, read from Spark.
    for home in (on_duckdb, on_spark):
        correct_actuals(home, "2013-01-05")
    ingest(on_duckdb)
    run_dbt(on_duckdb, *BUILD, environment=dbt_window_env("2013-01-05", "2013-01-05"))
    out = pipelines_on_spark(
        RunOptions(retrain=True, cutoff=date(2013, 1, 6), validation_days=2, score=False)
    )
    assert "flight dates 2013-01-05 .. 2013-01-05" in out
    control = connect(on_spark.warehouse)
    try:
        (champion_auc,) = control.execute(
            "select champion_roc_auc_on_validation from ml.model_registry "
            "where cutoff_date = '2013-01-06'"
        ).fetchone()
    finally:
        control.close()
    assert 0.5 < champion_auc < 1  # the gate scored the champion on Spark's rows

    rebuilt = digests(on_duckdb, on_spark)
    for table, (duckdb_rows, spark_rows) in rebuilt.items():
        assert spark_rows == duckdb_rows, f"{table} after the correction: Spark differs"
    assert rebuilt["marts.fct_flights"][0] != built["marts.fct_flights"][0]
    assert rebuilt["marts.fct_flights"][0][0] == built["marts.fct_flights"][0][0]
    with duckdb.connect() as con:  # not the module's default connection (test_recorded.py)
        ((late,),) = con.execute(
            f"select avg(is_delayed::int) from {spark_table(on_spark, 'marts.fct_flights')} "
            "where flight_date = '2013-01-05' and has_actuals"
        ).fetchall()
    assert late > 0.5  # 30 minutes later: most of the day's flights are now late


def test_the_predictions_columns_spark_declares_are_the_warehouse_tables():
    """dbt's spark target declares ml.predictions from its source's columns (it is empty
    before the first scoring), their DuckDB types spelled as Spark spells them; the scoring
    writes it with the columns DuckDB makes of the same declaration (ingest/tables.py)."""
    import ast
    import re

    from ingest.settings import DBT_PROJECT_DIR
    from ingest.sources import ML_YAML, source_table
    from ingest.spark_session import predictions_schema

    macro = (DBT_PROJECT_DIR / "macros" / "require_raw_tables.sql").read_text()
    spelled = ast.literal_eval(re.search(r"set spark_types = (\{.*?\})", macro, re.S).group(1))
    table = source_table(ML_YAML, "ml.predictions")
    declared = ", ".join(
        f"{column.name} {spelled.get(column.type.lower(), column.type.lower())}"
        for column in table.columns
    )
    assert declared == predictions_schema()
