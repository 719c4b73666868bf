"""The Spark engine's local server: one Spark Connect server per data directory, which
dbt-spark's `session` method and flightline's steps join as clients (PySpark 4.3's opt-in
SPARK_LOCAL_CONNECT_REUSE, pyspark.sql.connect.local_server): the environment that makes
them join it, whether it runs, and stopping it. The sessions themselves are
ingest/spark_session.py's; docs/spark.md says why and what was measured."""

from __future__ import annotations

import json
import os
import sys
import time
import warnings
from collections.abc import Mapping
from pathlib import Path

from ingest.processes import process_alive, python_warnings
from ingest.settings import Settings


def uses_connect_server() -> bool:
    """Whether the local engine runs in one Spark Connect server per data directory (the
    default for a `local[...]` master; FLIGHTLINE_SPARK_SERVER=0 starts a JVM in every
    process instead, as before)."""
    master = os.environ.get("FLIGHTLINE_SPARK_MASTER", "local[2]")
    return master.startswith("local") and os.environ.get("FLIGHTLINE_SPARK_SERVER", "1") != "0"


def connect_discovery(settings: Settings) -> Path:
    """Where PySpark records the data directory's Connect server (host, port, token, pid),
    beside its pid file and logs: one server per data directory, since the warehouse folder
    and the metastore are the server's settings, fixed when it starts."""
    return settings.spark / "connect" / "connect-local.json"


# Variables that choose a mode, which a process of the other mode must not carry: PySpark
# refuses a master beside a Connect URL (CANNOT_CONFIGURE_SPARK_CONNECT_MASTER), and a shell
# that once ran `eval "$(flightline spark env)"` keeps them.
_CONNECT_VARIABLES = (
    "SPARK_REMOTE",
    "SPARK_LOCAL_CONNECT_REUSE",
    "SPARK_LOCAL_CONNECT_DISCOVERY",
    "SPARK_CONNECT_MODE_ENABLED",
)


def spark_environment(settings: Settings) -> dict[str, str | None]:
    """The environment of every process that opens a session on the local engine:
    flightline's steps, and dbt (dbt-spark's `session` method calls the same
    `SparkSession.builder.getOrCreate()`); None is a variable to unset. With the Connect
    server (`uses_connect_server`) PySpark's own opt-in (`SPARK_LOCAL_CONNECT_REUSE`,
    pyspark.sql.connect.local_server, PySpark 4.3) makes that call reconnect to one
    long-lived server, started by the first caller, instead of starting a JVM (~20 s on 2
    cores) in every process."""
    master = os.environ.get("FLIGHTLINE_SPARK_MASTER", "local[2]")
    environment: dict[str, str | None] = {
        # Absolute: the profile's paths are FLIGHTLINE_HOME's, else the relative '../data',
        # which the server would read from the folder it started in, not dbt_project/.
        "FLIGHTLINE_HOME": str(settings.home.absolute()),
        # The Python workers that score (mapInPandas) run this interpreter, with its
        # packages: PySpark's default is the `python3` on the PATH.
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON", sys.executable),
    }
    if master.startswith("local"):  # one machine: no "hostname resolves to a loopback" warning
        environment["SPARK_LOCAL_IP"] = os.environ.get("SPARK_LOCAL_IP", "127.0.0.1")
    # The warnings of a Spark client that say nothing to an operator (QUIET_WARNINGS), for
    # dbt's process as Python reads PYTHONWARNINGS: dbt-spark imports PySpark (pandas 3).
    quiet = [f"ignore:{message}:{category.__name__}" for message, category in QUIET_WARNINGS]
    if uses_connect_server():
        environment |= {
            "SPARK_REMOTE": master,
            "SPARK_LOCAL_CONNECT_REUSE": "1",
            "SPARK_LOCAL_CONNECT_DISCOVERY": str(connect_discovery(settings).absolute()),
            "SPARK_CONNECT_MODE_ENABLED": None,  # PySpark sets it itself
            "MASTER": None,
        }
    else:  # a JVM in each process: spark-submit reads its master from MASTER
        environment |= dict.fromkeys(_CONNECT_VARIABLES) | {"MASTER": master}
    environment["PYTHONWARNINGS"] = python_warnings(*quiet)
    return environment


def set_environment(environment: Mapping[str, str | None]) -> None:
    """Set the variables of `environment` in this process's, unsetting those it maps to
    None."""
    for name, value in environment.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


PANDAS_WARNING = "PySpark does not yet fully support pandas"
"""The start of the warning PySpark 4 gives at its import (and on conversions) with pandas 3:
the conversions flightline makes are proved equal to DuckDB's (tests/spark)."""

QUIET_WARNINGS: tuple[tuple[str, type[Warning]], ...] = (
    # A Connect client's static settings (dbt's server_side_parameters: the warehouse
    # folder, the metastore, the memory) are the server's since it started; PySpark warns
    # once per setting at every connection that it cannot change them.
    ("Failed to set", UserWarning),
    (PANDAS_WARNING, FutureWarning),
)
"""The Spark client's warnings an operator's output does not carry (the start of the
message, its category): filtered in flightline's processes (`quiet_spark_warnings`) and in
dbt's through PYTHONWARNINGS (`spark_environment`)."""


def quiet_spark_warnings() -> None:
    """Filter QUIET_WARNINGS in this process: before PySpark's first import (Great
    Expectations imports it too, where it is installed) and before a session connects."""
    for message, category in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message, category=category)


def running_server(settings: Settings) -> tuple[int, int] | None:
    """(pid, port) of the data directory's Connect server when its process is alive."""
    try:
        recorded = json.loads(connect_discovery(settings).read_text())
        pid, port = int(recorded["pid"]), int(recorded["port"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return (pid, port) if process_alive(pid) else None


def stop_connect_server(settings: Settings, wait: float = 60) -> bool | None:
    """Stop the data directory's Connect server and wait for its process to end: True if
    one was stopped, False if none ran, None if its process could not be inspected."""
    discovery = connect_discovery(settings)
    if not discovery.exists():
        return False
    quiet_spark_warnings()
    from pyspark.sql.connect.local_server import stop_local_connect_server

    server = running_server(settings)
    saved = os.environ.get("SPARK_LOCAL_CONNECT_DISCOVERY")
    os.environ["SPARK_LOCAL_CONNECT_DISCOVERY"] = str(discovery)
    try:
        stopped = stop_local_connect_server()
    finally:
        set_environment({"SPARK_LOCAL_CONNECT_DISCOVERY": saved})
    if stopped and server is not None:  # its shutdown still writes the metastore and logs
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and process_alive(server[0]):
            time.sleep(0.2)
    return stopped
