"""Issue 20's benchmark (`python benchmarks/run.py --only spark`): the same pipelines on
DuckDB and on local Spark, one after the other on the same files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from benchmarks.measure import FLIGHTLINE, measured, stages

SPARK = {
    "FLIGHTLINE_ENGINE": "spark",
    # A long local job: the optimising JIT earns its compile time, and the training set
    # (up to max_training_rows) and the scoring's Arrow batches pass through the driver.
    "FLIGHTLINE_SPARK_JAVA_OPTIONS": "",
    "FLIGHTLINE_SPARK_MEMORY": "8g",
}


def bench_spark(work: Path, sizes: list[int]) -> dict:
    """Issue 20: a month of the real feeds built, trained and scored on DuckDB and on local
    Spark, the tables compared row for row; then synthetic years of `sizes` flights on
    both, one after the other on the same files (`flightline run`, every pipeline)."""
    import duckdb

    from ingest.settings import Settings
    from ingest.spark_server import stop_connect_server
    from tests.spark.test_spark_engine import relation_digest, spark_table, without_scored_at

    month = {"engines": {}}
    homes = {engine: work / f"month-{engine}" for engine in ("duckdb", "spark")}
    options = ["--cutoff", "2013-01-22", "--validation-days", "7"]
    options += ["--score-from", "2013-01-22", "--score-to", "2013-01-31"]
    for engine, home in homes.items():
        measured([*FLIGHTLINE, "feeds", "export", "--until", "2013-01-31"], home)
        run = measured(
            [*FLIGHTLINE, "run", "--no-export", *options],
            home,
            environment=SPARK if engine == "spark" else {"FLIGHTLINE_ENGINE": "duckdb"},
        )
        month["engines"][engine] = {"seconds": run.seconds, "stages": stages(run.out)}
        print(f"a month on {engine}: {run.seconds:.0f} s", flush=True)
    on_duckdb, on_spark = Settings(homes["duckdb"]), Settings(homes["spark"])
    con = duckdb.connect(str(on_duckdb.warehouse), read_only=True)
    month["tables"] = []
    try:
        for table in ("marts.fct_flights", "features.flight_features", "ml.predictions"):
            ours = relation_digest(con, without_scored_at(table))
            theirs = relation_digest(con, without_scored_at(spark_table(on_spark, table)))
            month["tables"].append({"table": table, "rows": ours[0], "equal": ours == theirs})
    finally:
        con.close()
    print(json.dumps(month), flush=True)
    stop_connect_server(on_spark)  # its JVM holds the home's metastore and 8 GB
    for home in homes.values():
        shutil.rmtree(home)
    years = []
    for flights in sizes:
        base = work / f"spark-{flights}"
        measured([*FLIGHTLINE, "feeds", "synth", "--flights", str(flights)], base / "duckdb")
        shutil.copytree(base / "duckdb" / "landing", base / "spark" / "landing")
        result = {"flights": flights}
        for engine in ("duckdb", "spark"):
            run = measured(
                [*FLIGHTLINE, "run", "--no-export"],
                base / engine,
                environment=SPARK if engine == "spark" else {"FLIGHTLINE_ENGINE": "duckdb"},
            )
            result[engine] = {
                "seconds": run.seconds,
                "peak_mb": run.peak_mb,
                "stages": stages(run.out),
            }
            print(f"{flights:,} flights on {engine}: {run.seconds:.0f} s", flush=True)
            if engine == "spark":
                stop_connect_server(Settings(base / engine))
        years.append(result)
        print(json.dumps(result), flush=True)
        shutil.rmtree(base)
    return {"month": month, "years": years}
