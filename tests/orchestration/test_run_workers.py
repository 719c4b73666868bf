"""The code server's runs start from a forkserver that imported the code and the steps'
modules once, not from a new interpreter each (orchestration/dagster_private/,
fork_run_workers; orchestration/run_workers.py); after an edit to the code, switched off, or
where it cannot start, from Dagster's own spawn. The real `dagster dev` starts its runs this
way in the hands-off test (tests/orchestration/test_automation.py)."""

import multiprocessing
import os
import sys
from importlib.util import find_spec
from multiprocessing import context as contexts

import pytest

from orchestration import dagster_private as private
from orchestration import run_workers

pytestmark = pytest.mark.skipif(
    bool(private.why_stock()), reason="flightline's private Dagster code is not in use here"
)


class CodeServer:
    """What `use_forkserver` reads and sets of Dagster's DagsterApiServer: its context."""

    def __init__(self, method: str = "spawn") -> None:
        self._mp_ctx = multiprocessing.get_context(method)


def imported(queue, modules) -> None:
    """A run's process's view: which of the modules it already has."""
    queue.put([module for module in modules if module in sys.modules])


def test_the_definitions_install_it_once_and_every_module_it_imports_exists():
    import orchestration.definitions  # noqa: F401  (installs it)

    installed = private.DagsterApiServer.StartRun
    assert getattr(installed, "forks_run_workers", False)
    assert private.fork_run_workers() and private.DagsterApiServer.StartRun is installed
    # Python's forkserver skips a preload that is not there without a word.
    assert all(find_spec(name) for name in (run_workers.PRELOAD, *run_workers.MODULES))


@pytest.mark.e2e  # a forkserver importing scikit-learn, Great Expectations, the Definitions
def test_a_run_starts_with_the_code_imported_until_the_code_changes(monkeypatch):
    monkeypatch.delenv("FLIGHTLINE_FORK_RUNS", raising=False)
    server = CodeServer()
    private.use_forkserver(server)
    assert server._mp_ctx.get_start_method() == "forkserver"
    queue = server._mp_ctx.Queue()
    run = server._mp_ctx.Process(target=imported, args=(queue, run_workers.MODULES))
    run.start()
    assert queue.get(timeout=60) == list(run_workers.MODULES)
    run.join()

    forkserver = server._mp_ctx
    private.use_forkserver(server)  # the next run: the same forkserver
    assert server._mp_ctx is forkserver
    monkeypatch.setattr(run_workers, "code_stamp", lambda: (0, 0))  # an edit since
    private.use_forkserver(server)
    assert server._mp_ctx.get_start_method() == "spawn"
    private.use_forkserver(server)  # for good: the forkserver has the old code
    assert server._mp_ctx.get_start_method() == "spawn"


def test_a_forkserver_that_cannot_start_leaves_dagsters_spawn(monkeypatch):
    def cannot(self):
        raise OSError("AF_UNIX path too long")

    monkeypatch.delenv("FLIGHTLINE_FORK_RUNS", raising=False)
    monkeypatch.setattr(contexts.ForkServerProcess, "start", cannot)
    server = CodeServer()
    with pytest.warns(UserWarning, match="runs are spawned, not forked: OSError"):
        private.use_forkserver(server)
    assert server._mp_ctx.get_start_method() == "spawn"
    private.use_forkserver(server)  # decided: not tried again for every run
    assert server._mp_ctx.get_start_method() == "spawn"


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


def test_the_code_stamp_sees_an_edit(tmp_path, monkeypatch):
    package = tmp_path / "ml"
    package.mkdir()
    (package / "features.py").write_text("x = 1\n")
    monkeypatch.setattr(run_workers, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(run_workers, "DECLARED", ())
    before = run_workers.code_stamp()
    os.utime(package / "features.py", ns=(before[0] + 10**9, before[0] + 10**9))
    assert run_workers.code_stamp() != before
    (package / "new.py").write_text("")
    assert run_workers.code_stamp()[1] == 2


def test_the_code_stamp_sees_an_edit_of_the_sources_the_code_reads(tmp_path, monkeypatch):
    """The feed catalog and the tables are read from dbt's sources YAML at import: an edit
    there is an edit of the code the forkserver imported. The stamp covers exactly the files
    ingest/sources.py reads."""
    from ingest import sources

    assert run_workers.DECLARED == (sources.FEEDS_YAML, sources.INGEST_YAML, sources.ML_YAML)
    assert all(path.is_file() for path in run_workers.DECLARED)
    (tmp_path / "ml").mkdir()
    (tmp_path / "ml" / "features.py").write_text("x = 1\n")
    declared = tmp_path / "dbt_project" / "models" / "staging" / "_ops__sources.yml"
    declared.parent.mkdir(parents=True)
    declared.write_text("sources: []\n")
    (declared.parent / "stg_ops__schedules.sql").write_text("select 1\n")  # not read at import
    monkeypatch.setattr(run_workers, "REPO_ROOT", tmp_path)
    monkeypatch.setattr(run_workers, "DECLARED", (declared,))
    before = run_workers.code_stamp()
    assert before[1] == 2
    os.utime(declared, ns=(before[0] + 10**9, before[0] + 10**9))
    assert run_workers.code_stamp() != before
