"""The code server's runs start from a forkserver that imported the code and the steps'
modules once, not from a new interpreter each (orchestration/dagster_private.py,
fork_run_workers); switched off, Dagster's own spawn. The real `dagster dev` starts its runs
this way in the hands-off test (tests/orchestration/test_automation.py)."""

import multiprocessing
from multiprocessing import forkserver

import pytest

from orchestration import dagster_private as private

pytestmark = pytest.mark.skipif(
    bool(private.why_stock()), reason="flightline's private Dagster code is not in use here"
)


class CodeServer:
    """What `use_forkserver` reads and sets of Dagster's DagsterApiServer: its context."""

    def __init__(self, method: str = "spawn") -> None:
        self._mp_ctx = multiprocessing.get_context(method)


def test_the_definitions_install_it_once():
    import orchestration.definitions  # noqa: F401  (installs it)

    installed = private.DagsterApiServer.StartRun
    assert getattr(installed, "forks_run_workers", False)
    assert private.fork_run_workers() and private.DagsterApiServer.StartRun is installed


def test_a_code_servers_spawn_becomes_the_forkserver_with_the_code_preloaded(monkeypatch):
    monkeypatch.delenv("FLIGHTLINE_FORK_RUNS", raising=False)
    monkeypatch.setattr(forkserver._forkserver, "_preload_modules", None)
    server = CodeServer()
    private.use_forkserver(server)
    assert server._mp_ctx.get_start_method() == "forkserver"
    assert forkserver._forkserver._preload_modules == [
        "orchestration.definitions",
        "ml.expectations",
        "ml.report",
        "ml.training",
        "ml.promotion",
    ]
    again = server._mp_ctx
    private.use_forkserver(server)  # the next run: the same forkserver
    assert server._mp_ctx is again


@pytest.mark.parametrize("switch", ["FLIGHTLINE_FORK_RUNS=0", "FLIGHTLINE_STOCK_DAGSTER=1"])
def test_switched_off_runs_are_spawned_as_dagster_does(monkeypatch, switch):
    name, value = switch.split("=")
    monkeypatch.setenv(name, value)
    server = CodeServer()
    private.use_forkserver(server)
    assert server._mp_ctx.get_start_method() == "spawn"


def test_a_dagster_without_its_spawn_context_is_left_as_it_is():
    server = CodeServer("fork")  # a Dagster that changed how it starts runs
    private.use_forkserver(server)
    assert server._mp_ctx.get_start_method() == "fork"
    private.use_forkserver(bare := object())  # or no context at all
    assert not hasattr(bare, "_mp_ctx")
