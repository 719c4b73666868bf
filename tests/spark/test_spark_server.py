"""The Spark engine's environment (ingest/spark_server.py): one Connect server per data
directory, joined by dbt and the steps alike; no PySpark needed to check it."""

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from ingest.processes import apply_python_warnings
from ingest.settings import Settings
from ingest.spark_server import connect_discovery, running_server, spark_environment
from ingest.spark_session import spark_session


def test_dbt_and_the_steps_join_the_data_directorys_connect_server(tmp_path: Path, monkeypatch):
    for name in ("FLIGHTLINE_SPARK_MASTER", "FLIGHTLINE_SPARK_SERVER", "PYTHONWARNINGS"):
        monkeypatch.delenv(name, raising=False)
    one, other = Settings(home=tmp_path / "one"), Settings(home=tmp_path / "other")
    environment = spark_environment(one)
    assert environment["SPARK_REMOTE"] == "local[2]"
    assert environment["SPARK_LOCAL_CONNECT_REUSE"] == "1"
    # PySpark refuses a master beside a Connect URL: a MASTER the shell had is unset.
    assert environment["MASTER"] is None
    # The profile's paths are FLIGHTLINE_HOME's: absolute, whichever folder started the server.
    assert environment["FLIGHTLINE_HOME"] == str(one.home.absolute())
    # A server per data directory: its warehouse folder and metastore are fixed at its start.
    assert environment["SPARK_LOCAL_CONNECT_DISCOVERY"] == str(connect_discovery(one))
    assert connect_discovery(one) != connect_discovery(other)
    assert connect_discovery(one).is_relative_to(one.spark)
    quiet = (
        "ignore:Failed to set:UserWarning,"
        "ignore:PySpark does not yet fully support pandas:FutureWarning"
    )
    assert environment["PYTHONWARNINGS"] == quiet
    # As Python reads it in dbt's process: neither warning is shown, others are.
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import warnings; "
            "warnings.warn('Failed to set spark.ui.enabled', UserWarning); "
            "warnings.warn('PySpark does not yet fully support pandas >= 3.0.0.', FutureWarning); "
            "warnings.warn('something else', FutureWarning)",
        ],
        env={**os.environ, "PYTHONWARNINGS": quiet},
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    assert "something else" in shown and "Failed to set" not in shown and "PySpark" not in shown

    monkeypatch.setenv("PYTHONWARNINGS", "error::DeprecationWarning")
    assert spark_environment(one)["PYTHONWARNINGS"] == f"error::DeprecationWarning,{quiet}"


def test_without_the_server_each_process_starts_its_own_jvm(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FLIGHTLINE_SPARK_SERVER", "0")
    monkeypatch.setenv("FLIGHTLINE_SPARK_MASTER", "local[1]")
    monkeypatch.delenv("PYTHONWARNINGS", raising=False)
    environment = spark_environment(Settings(home=tmp_path))
    assert environment["MASTER"] == "local[1]"
    # The same filters as a client of the server's (dbt's own JVM gives no "Failed to set").
    assert environment["PYTHONWARNINGS"] == (
        "ignore:Failed to set:UserWarning,"
        "ignore:PySpark does not yet fully support pandas:FutureWarning"
    )
    # A shell that once joined the server (`flightline spark env`) has them: unset.
    assert environment["SPARK_REMOTE"] is None and environment["SPARK_LOCAL_CONNECT_REUSE"] is None


def test_a_jvm_of_its_own_is_refused_while_the_server_holds_the_metastore(
    tmp_path: Path, monkeypatch
):
    home = Settings(home=tmp_path)
    assert running_server(home) is None
    connect_discovery(home).parent.mkdir(parents=True)
    # A recorded server whose process is alive (this one stands in for it).
    connect_discovery(home).write_text(json.dumps({"pid": os.getpid(), "port": 15002}))
    assert running_server(home) == (os.getpid(), 15002)
    monkeypatch.setenv("FLIGHTLINE_SPARK_SERVER", "0")
    with pytest.raises(RuntimeError, match="flightline spark stop"):
        spark_session(home)


def test_a_cluster_master_is_never_a_local_server(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("FLIGHTLINE_SPARK_SERVER", raising=False)
    monkeypatch.setenv("FLIGHTLINE_SPARK_MASTER", "spark://spark-master:7077")
    environment = spark_environment(Settings(home=tmp_path))
    assert environment["MASTER"] == "spark://spark-master:7077"
    assert environment["SPARK_REMOTE"] is None and "SPARK_LOCAL_IP" not in environment


def test_forked_dbt_applies_the_callers_warning_options_as_python_would():
    """flightline-dbt's child is a fork: Python read PYTHONWARNINGS when the server started,
    not the caller's; the child applies the caller's (later entries first, the message a
    literal prefix, case-insensitive; a malformed entry ignored)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.simplefilter("always")
        apply_python_warnings(
            "error::DeprecationWarning,i:failed to set (x):UserWarning,bad:x,e:a:b:c:d:e:f"
        )
        warnings.warn("Failed to set (x) spark.ui.enabled", UserWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        try:
            warnings.warn("old", DeprecationWarning, stacklevel=1)
        except DeprecationWarning:
            raised = True
        else:
            raised = False
    assert [str(w.message) for w in caught] == ["something else"] and raised


@pytest.mark.parametrize("server", ["1", "0"])
def test_the_steps_session_has_the_settings_of_dbts_profile(tmp_path: Path, monkeypatch, server):
    """ingest/spark_session.py's `_spark_conf` and profiles.yml's spark target declare the
    same Spark settings twice (dbt renders its profile with its own Jinja; the steps start
    the same server): held equal here, profiles.yml rendered as dbt renders its env_var()."""
    import jinja2
    import yaml

    from ingest.settings import DBT_PROJECT_DIR
    from ingest.spark_session import QUICK_JIT, _spark_conf

    for name in (
        "FLIGHTLINE_SPARK_MEMORY",
        "FLIGHTLINE_SPARK_PARTITIONS",
        "FLIGHTLINE_SPARK_MASTER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("FLIGHTLINE_SPARK_JAVA_OPTIONS", raising=False)
    monkeypatch.setenv("FLIGHTLINE_SPARK_SERVER", server)
    settings = Settings(home=tmp_path / "home")
    variables = {"FLIGHTLINE_HOME": str(settings.home)}

    def env_var(name: str, default: str | None = None) -> str:
        return variables.get(name, default)

    rendered = jinja2.Template((DBT_PROJECT_DIR / "profiles.yml").read_text()).render(
        env_var=env_var
    )
    profile = yaml.safe_load(rendered)["flightline"]["outputs"]["spark"]
    declared = {k: str(v) for k, v in profile["server_side_parameters"].items()}
    conf = _spark_conf(settings)
    # The differences, each on purpose: Python workers reused only by a JVM of the
    # process's own, Arrow for the steps' pandas conversions (dbt converts none).
    java = f"-Dderby.system.home={settings.spark} {QUICK_JIT}"
    assert conf.pop("spark.driver.extraJavaOptions") == java
    assert declared.pop("spark.driver.extraJavaOptions").split() == java.split()
    assert "-XX:ReservedCodeCacheSize=240m" in QUICK_JIT.split()
    assert declared.pop("spark.python.worker.reuse") == "false"  # dbt's JVM: the server's
    assert conf.pop("spark.python.worker.reuse") == ("false" if server == "1" else "true")
    assert conf.pop("spark.sql.execution.arrow.pyspark.enabled") == "true"
    assert conf == declared
