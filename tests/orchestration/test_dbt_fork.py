"""`flightline-dbt` (orchestration/dbt_fork.py) behaves as `dbt`: output, exit code,
environment, working folder and signals, with a server of its own per test (the caller
finds the server through XDG_RUNTIME_DIR)."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.settings import DBT_PROJECT_DIR
from orchestration.dbt_warm import threads
from tests.conftest import processes

FORKED = str(Path(sys.executable).parent / "flightline-dbt")
REAL = str(Path(sys.executable).parent / "dbt")


def own_runtime(tmp_path_factory, patch: pytest.MonkeyPatch, name: str) -> Path:
    """A private folder for a server's socket, short (a socket's path holds at most 107
    bytes: `tmp_path` under xdist, popen-gw0/<test name>, is too long, and the caller then
    runs dbt itself), where the callers look for it from now on."""
    folder = tmp_path_factory.mktemp(name)
    folder.chmod(0o700)
    patch.setenv("XDG_RUNTIME_DIR", str(folder))
    patch.delenv("FLIGHTLINE_DBT_FORK", raising=False)
    return folder


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """A private server for this file's tests, started here (under xdist's `load` each worker
    runs some of them, in any order): its socket under a folder of their own, stopped after
    the last."""
    with pytest.MonkeyPatch.context() as patch:
        folder = own_runtime(tmp_path_factory, patch, "run")
        assert run([FORKED, "--version"]).returncode == 0
        yield folder
        subprocess.run([FORKED, "stop-server"], check=False)


@pytest.fixture(scope="module")
def dbt_version() -> str:
    return run([REAL, "--version"]).stdout


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)


def processes_of(folder: Path) -> list[int]:
    """The server and its children (forks: the same command line)."""
    return processes(str(folder).encode(), b"dbt_fork")


def test_same_output_and_exit_code_as_dbt_and_the_callers_environment_and_folder(
    runtime, dbt_version, tmp_path
):
    assert run([FORKED, "--version"]).stdout == dbt_version
    forked, real = run([FORKED, "no-such-command"]), run([REAL, "no-such-command"])
    assert (forked.returncode, forked.stdout, forked.stderr) == (
        real.returncode,
        real.stdout,
        real.stderr,
    )
    assert len(processes_of(runtime)) == 1  # the server: started once, still there

    # The window check of the project's macros reads the caller's environment; dbt reads
    # dbt_project.yml from the caller's folder.
    env = {
        **os.environ,
        "FLIGHTLINE_WAREHOUSE": ":memory:",
        "FLIGHTLINE_DBT_START_DATE": "2013-01-01' or true --",
        "FLIGHTLINE_DBT_END_DATE": "2013-01-02",
    }
    args = ["compile", "--profiles-dir", ".", "--select", "fct_flights"]
    args += ["--target-path", str(tmp_path / "dbt")]
    compiled = run([FORKED, *args], cwd=DBT_PROJECT_DIR, env=env)
    assert compiled.returncode == 2  # as dbt: a compilation error
    assert "window start_date must be a date YYYY-MM-DD" in compiled.stdout
    elsewhere = run([FORKED, "compile", "--profiles-dir", str(DBT_PROJECT_DIR)], cwd=tmp_path)
    assert elsewhere.returncode == 2
    assert "No dbt_project.yml found" in elsewhere.stdout + elsewhere.stderr


def test_the_warm_up_parses_and_leaves_no_thread():
    """orchestration/dbt_warm.py in a process of its own, as the server runs it: both parses
    succeed and no thread is left (dbt's static parser would leave its Rust pool: 3)."""
    code = "from orchestration import dbt_warm; print(dbt_warm.warm_up(), dbt_warm.threads())"
    done = run([sys.executable, "-c", code], env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.stdout.split() == ["True", "1"], done.stdout[-2000:] + done.stderr[-2000:]


def test_the_warmed_server_has_one_thread_and_its_forks_parse_in_full(runtime, tmp_path):
    """The server warmed up before it listened (not started again cold) and has one thread;
    a fork's full parse with the static parser (whose Rust thread pool a fork of a threaded
    server would inherit without its threads) ends."""
    (server,) = processes_of(runtime)
    assert b"FLIGHTLINE_DBT_SERVER_COLD=" not in Path(f"/proc/{server}/environ").read_bytes()
    assert threads(server) == 1
    env = {**os.environ, "FLIGHTLINE_WAREHOUSE": ":memory:"}
    args = [FORKED, "parse", "--profiles-dir", ".", "--target-path", str(tmp_path / "t")]
    parsed = run(args, cwd=DBT_PROJECT_DIR, env=env, timeout=240)
    assert parsed.returncode == 0, parsed.stdout[-3000:]
    assert threads(server) == 1


def test_an_interrupt_stops_dbt_and_a_dead_caller_leaves_no_dbt_behind(runtime, tmp_path):
    (server,) = processes_of(runtime)
    # A full parse of the project into an empty target: seconds of work to interrupt.
    args = [FORKED, "parse", "--profiles-dir", ".", "--target-path", str(tmp_path / "t")]
    env = {**os.environ, "FLIGHTLINE_WAREHOUSE": ":memory:"}
    for stop in (signal.SIGINT, signal.SIGKILL):
        caller = subprocess.Popen(args, cwd=DBT_PROJECT_DIR, env=env, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while len(processes_of(runtime)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(processes_of(runtime)) == 2, "dbt did not start"
        caller.send_signal(stop)
        caller.wait(timeout=30)
        deadline = time.monotonic() + 30
        while processes_of(runtime) != [server] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_of(runtime) == [server], f"dbt still runs after {stop.name}"
        if stop == signal.SIGINT:
            assert caller.returncode != 0


def test_without_its_server_it_runs_dbt_itself(runtime, dbt_version, tmp_path, monkeypatch):
    from orchestration import dbt_fork

    servers = processes_of(runtime)
    monkeypatch.setenv("FLIGHTLINE_DBT_FORK", "0")
    assert run([FORKED, "--version"]).stdout == dbt_version
    assert processes_of(runtime) == servers  # no call reached the server
    # A folder others can enter is not used for the socket (the caller then runs dbt as
    # itself, as with FLIGHTLINE_DBT_FORK=0).
    shared = tmp_path / f"flightline-dbt-{os.getuid()}"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    with pytest.raises(PermissionError, match="is not this user's private folder"):
        dbt_fork._connect()


def test_a_stopped_server_is_started_again(tmp_path_factory, dbt_version, monkeypatch):
    """On a server of its own, started cold (the warm-up is tested above): the file's server
    stays up for the other tests."""
    folder = own_runtime(tmp_path_factory, monkeypatch, "restart")
    monkeypatch.setenv("FLIGHTLINE_DBT_SERVER_COLD", "1")
    try:
        assert run([FORKED, "--version"]).returncode == 0
        (first,) = processes_of(folder)
        assert b"FLIGHTLINE_DBT_SERVER_COLD=1" in Path(f"/proc/{first}/environ").read_bytes()
        assert run([FORKED, "stop-server"]).returncode == 0
        deadline = time.monotonic() + 10
        while processes_of(folder) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_of(folder) == []
        assert run([FORKED, "--version"]).stdout == dbt_version
        (second,) = processes_of(folder)
        assert second != first
    finally:
        run([FORKED, "stop-server"])
