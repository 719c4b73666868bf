"""Hands-off, on the real `dagster dev` (webserver, daemon and code server as subprocesses):
on a home that `flightline run`'s pipeline built through a day (tests/conftest.py's
`january`), the UI re-executes one of the command's runs and lists its runs under their
jobs; then the next evening's feeds land and, with no other command, the automation builds,
gates, scores and publishes the day after. The same files given to `flightline run` on a
copy of the home lead to the same runs and the same warehouse. (The January home's forecast
for the 21st was quarantined; the evening's files bring it again whole, a late correction
both routes load alike.)"""

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from ingest.provider.export import export_feeds
from ingest.publish import snapshot_path
from ingest.settings import REPO_ROOT, Settings
from orchestration import dagster_private as private
from orchestration.keys import PIPELINE_JOBS
from tests.conftest import copy_home, processes

pytestmark = pytest.mark.e2e  # the whole pipeline: `make test`, not `make test-fast`

FLIGHTLINE = str(Path(sys.executable).parent / "flightline")
EVENING, TOMORROW = date(2013, 1, 21), "2013-01-22"
TIMEOUT = 420


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DAGSTER_", "FLIGHTLINE_"))}
    home_env = {"FLIGHTLINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster_home")}
    return {**env, **home_env, "FLIGHTLINE_LOOP_SECONDS": "5"}


def _flightline(home: Path, *args: str) -> str:
    done = subprocess.run(
        [FLIGHTLINE, *args], env=_env(home), cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout


def _graphql(port: int, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = json.load(response)
    assert "errors" not in answer, answer
    return answer["data"]


def _until(what: str, test, timeout: float = TIMEOUT, every: float = 2.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = test()
        except (OSError, duckdb.Error):  # the webserver not up yet, a snapshot being swapped
            value = None
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"not within {timeout} s: {what}")


def _pipeline_runs(home: Path, after: float) -> list[tuple[str, str | None, str | None]]:
    """(job, first day, last day) of the pipeline runs created after a time, in order."""
    with DagsterInstance.from_ref(_instance_ref(home)) as instance:
        records = instance.get_run_records(RunsFilter(created_after=_utc(after)), ascending=True)
    return [
        (
            r.dagster_run.job_name,
            r.dagster_run.tags.get("dagster/asset_partition_range_start"),
            r.dagster_run.tags.get("dagster/asset_partition_range_end"),
        )
        for r in records
        if r.dagster_run.job_name in PIPELINE_JOBS
    ]


def _instance_ref(home: Path):
    from dagster._core.instance.ref import InstanceRef

    return InstanceRef.from_dir(str(home / "dagster_home"))


def _utc(seconds: float):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC)


def _warehouse(home: Path) -> dict[str, list]:
    con = duckdb.connect(str(Settings(home=home).warehouse), read_only=True)
    try:
        return {
            "predictions": con.execute(
                "select flight_id, model_version, score from ml.predictions order by flight_id"
            ).fetchall(),
            "features": con.execute(
                "select * from features.flight_features order by flight_id"
            ).fetchall(),
        }
    finally:
        con.close()


def _predicted(snapshot: Path, day: str) -> int:
    con = duckdb.connect(str(snapshot), read_only=True)
    try:
        return con.execute(
            "select count(*) from ml.predictions where flight_date = ?", [day]
        ).fetchone()[0]
    finally:
        con.close()


@pytest.fixture
def dagster_dev(tmp_path):
    """Starts `flightline ui` (dagster dev) on a home; stops its processes by their ids."""
    started: list[subprocess.Popen] = []

    def start(home: Path) -> int:
        port = socket.socket()
        port.bind(("127.0.0.1", 0))
        number = port.getsockname()[1]
        port.close()
        log = (tmp_path / "dagster-dev.log").open("w")
        process = subprocess.Popen(
            [FLIGHTLINE, "ui", "--port", str(number)],
            env=_env(home),
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the webserver, daemon, code server
        )
        started.append(process)
        _until("the webserver answers", lambda: _graphql(number, "{ version }"), timeout=180)
        return number

    yield start
    for process in started:
        # Ctrl-C, as a person stops it: dagster dev stops its webserver, daemon and code
        # server (SIGTERM left them running for a minute); then whatever is left is killed.
        # It had not finished within 20 s in any run of `make test` (20 s of every run): the
        # test is over and its home is thrown away, so it gets 3 s.
        with_children = os.getpgid(process.pid)
        os.killpg(with_children, signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=3)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(with_children, signal.SIGKILL)
        process.wait()


def test_the_ui_runs_the_evening_alone_and_the_cli_route_agrees(
    january, tmp_path, source, dbt_manifest, dagster_dev
):
    # `january`: the feeds through the 20th, built by `flightline run`'s pipeline. The
    # command's route and the UI each get a copy (which keeps the files' modification times:
    # the automation compares them with the loads; the loader records files inside landing/).
    cli_home = copy_home(january, tmp_path / "cli").home
    home = copy_home(january, tmp_path / "ui").home
    settings = Settings(home=home)

    ui_started = time.time()
    port = dagster_dev(home)

    # The command's runs are ordinary runs: listed under their job, and re-executable. The
    # scoring gate's: the shortest (a run of its own process in dagster dev; the inference
    # run, with a dbt invocation, took 30 s beside the other tests).
    with DagsterInstance.from_ref(_instance_ref(home)) as instance:
        (gate,) = instance.get_runs(RunsFilter(job_name="scoring_gate"), limit=1)
    listed = _graphql(
        port,
        """query($selector: PipelineSelector!) { pipelineOrError(params: $selector) {
            ... on Pipeline { runs { runId } } } }""",
        {
            "selector": {
                "pipelineName": "scoring_gate",
                "repositoryName": "__repository__",
                "repositoryLocationName": "orchestration.definitions",
            }
        },
    )
    assert gate.run_id in {run["runId"] for run in listed["pipelineOrError"]["runs"]}
    launched = _graphql(
        port,
        """mutation($parent: String!) { launchPipelineReexecution(
            reexecutionParams: {parentRunId: $parent, strategy: ALL_STEPS}) {
            __typename ... on LaunchRunSuccess { run { runId } }
            ... on PythonError { message } } }""",
        {"parent": gate.run_id},
    )["launchPipelineReexecution"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    child = launched["run"]["runId"]

    def finished(run_id):
        with DagsterInstance.from_ref(_instance_ref(home)) as instance:
            run = instance.get_run_by_id(run_id)
            return run.status if run.is_finished else None

    assert _until("the re-execution ends", lambda: finished(child)) == DagsterRunStatus.SUCCESS
    # Starting the UI on a built home plans nothing (only the re-execution ran).
    assert _pipeline_runs(home, ui_started) == [("scoring_gate", "2013-01-15", "2013-01-21")]

    # The next evening lands; nothing else is done.
    landed_at = time.time()
    export_feeds(settings.landing, until=EVENING, since=EVENING, source=source)
    snapshot = snapshot_path(settings.warehouse)
    _until(f"predictions for {TOMORROW} in {snapshot}", lambda: _predicted(snapshot, TOMORROW))
    _until("the automation has nothing left to run", lambda: _settled(home))
    ui_runs = _pipeline_runs(home, landed_at)
    # The code server forked them from its forkserver (the code imported once: orchestration/
    # run_workers.py), not a new interpreter each: it has reaped their CPU time.
    if private.IMPORT_ERROR is None and not private.UNTESTED:
        assert any(_reaped_cpu(pid) > 0 for pid in _forkservers(home)), "runs were spawned"

    # The same files through `flightline run`: the same runs, the same warehouse.
    export_feeds(Settings(home=cli_home).landing, until=EVENING, since=EVENING, source=source)
    ran_at = time.time()
    _flightline(cli_home, "run", "--no-export")
    assert _pipeline_runs(cli_home, ran_at) == ui_runs
    assert ui_runs[0] == ("feature_pipeline", "2013-01-21", "2013-01-22")
    assert ("inference_pipeline", "2013-01-21", "2013-01-22") in ui_runs
    assert _warehouse(cli_home) == _warehouse(home)
    # The operator's console over all of it carries no Python warning (Dagster's preview and
    # beta notices, `dagster dev`'s superseded notice, PySpark's pandas notice were ~100
    # lines): dbt's own "Warning in test ..." lines are results, not these.
    console = (tmp_path / "dagster-dev.log").read_text()
    # Python's format, `<file>:<line>: <Category>: <message>`, also behind a logger's prefix.
    assert not re.findall(r"\S+:\d+: \w*Warning: .*", console), console[-4000:]


def _forkservers(home: Path) -> list[int]:
    """Processes of Python's forkserver started under this home's `dagster dev`."""
    home_variable = f"DAGSTER_HOME={home / 'dagster_home'}".encode()
    return processes(b"multiprocessing.forkserver", environment=home_variable)


def _reaped_cpu(pid: int) -> int:
    """CPU ticks of a process's children that it has waited for (cutime + cstime)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[13]) + int(fields[14])


def _settled(home: Path) -> bool:
    """No run queued or running, and the planner asks for nothing: the loop is done."""
    from orchestration.planner import next_runs
    from orchestration.sensors import landed_since_loads

    with DagsterInstance.from_ref(_instance_ref(home)) as instance:
        if any(not run.is_finished for run in instance.get_runs(limit=20)):
            return False
        landed = landed_since_loads(instance, Settings(home=home).landing)
        return not next_runs(instance, landed).requests
