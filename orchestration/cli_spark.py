"""`flightline spark env|stop`: the Spark engine's Connect server from the command line
(ingest/spark_server.py)."""

from __future__ import annotations

import argparse
import shlex
import sys

from ingest.settings import get_settings
from orchestration.cli_examples import command


def cmd_spark_env(args: argparse.Namespace) -> int:
    """The environment flightline gives dbt on the Spark engine, as shell exports: dbt run
    by hand then joins the data directory's Connect server instead of opening its
    metastore beside it (ingest/spark_server.py)."""
    from ingest.spark_server import spark_environment

    settings = get_settings()
    environment = {"FLIGHTLINE_ENGINE": "spark", **spark_environment(settings)}
    for name, value in environment.items():
        print(f"unset {name}" if value is None else f"export {name}={shlex.quote(value)}")
    return 0


def cmd_spark_stop(args: argparse.Namespace) -> int:
    """Under the data directory's lock (main): never in the middle of a run's step."""
    from ingest.spark_server import stop_connect_server

    stopped = stop_connect_server(get_settings())
    if stopped is None:
        print("flightline spark: could not inspect the server's process", file=sys.stderr)
        return 1
    print("flightline spark: " + ("stopped the Connect server" if stopped else "none running"))
    return 0


def add_spark_commands(commands) -> None:
    """`spark env` and `spark stop` under `commands`, each with its examples."""
    spark = commands.add_parser("spark", help="the Spark engine's Connect server")
    spark_commands = spark.add_subparsers(dest="spark_command", required=True)
    command(
        spark_commands,
        "env",
        "print the environment that joins dbt run by hand to this data directory's Spark "
        "Connect server",
    ).set_defaults(handler=cmd_spark_env)
    command(
        spark_commands, "stop", "stop this data directory's Spark Connect server, if one runs"
    ).set_defaults(handler=cmd_spark_stop)
