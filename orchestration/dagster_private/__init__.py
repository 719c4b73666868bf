"""Every use of Dagster's and dagster-dbt's private APIs, in one guarded package.

They buy speed, not behaviour, and fall back to the stock equivalent on an untested Dagster
or dagster-dbt series (TESTED; with a warning), when the private modules do not import, or
when FLIGHTLINE_STOCK_DAGSTER is set (read when a command or run starts). What is here:
1. `BatchingSqliteEventLogStorage` (event_log.py): Dagster's SQLite event log, connections
   kept, the schema probed once, a batch in one transaction, the same rows;
2. `FlightlineDbtCliResource`: dagster-dbt's without its in-process adapter, `dbt --version`;
3. `execute_as_ui_run`: `flightline run`'s runs made as the UI makes them (listed, re-executable);
4. `instance_config_problems`: docs/deploy/dagster.yaml checked as Dagster checks it;
5. `fork_run_workers`: the code server's runs forked from a process that imported the code.
"""

import importlib
import multiprocessing
import os
import warnings
from functools import cached_property
from importlib.metadata import version as installed_version
from pathlib import Path

from dagster_dbt import DbtCliResource
from packaging.version import Version

from orchestration import run_workers

TESTED = {"dagster": "1.13", "dagster-dbt": "0.29"}
"""The release series the private code was written and tested against."""
STOCK_SWITCH = "FLIGHTLINE_STOCK_DAGSTER"


def _series(distribution: str) -> str:
    return ".".join(installed_version(distribution).split(".")[:2])


UNTESTED = [f"{name} {_series(name)}" for name, series in TESTED.items() if _series(name) != series]

try:
    from dagster._core.definitions.reconstruct import ReconstructableRepository
    from dagster._core.execution.api import create_execution_plan, execute_run
    from dagster._core.remote_origin import (
        ManagedGrpcPythonEnvCodeLocationOrigin,
        RemoteJobOrigin,
        RemoteRepositoryOrigin,
    )
    from dagster._core.snap import snapshot_from_execution_plan
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
    from dagster._grpc.server import DagsterApiServer

    from orchestration.dagster_private.event_log import BatchingSqliteEventLogStorage  # noqa: F401

    IMPORT_ERROR: ImportError | None = None
except ImportError as error:  # a Dagster that moved them: the stock classes serve
    IMPORT_ERROR = error


def why_stock() -> str | None:
    """Why the stock classes serve, or None when flightline's own do."""
    if os.environ.get(STOCK_SWITCH):
        return f"{STOCK_SWITCH} is set"
    if UNTESTED:
        return f"flightline's private Dagster code is tested on {TESTED}, not {UNTESTED}"
    if IMPORT_ERROR is not None:
        return f"Dagster's private modules did not import: {IMPORT_ERROR}"
    return None


_WARNED: set[str] = set()


def enabled() -> bool:
    reason = why_stock()
    if reason and not os.environ.get(STOCK_SWITCH) and reason not in _WARNED:
        _WARNED.add(reason)
        warnings.warn(f"{reason}: using Dagster's stock storage and dbt resource", stacklevel=2)
    return reason is None


class FlightlineDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt CLI resource (its own when `enabled()` is not) without its in-process
    dbt adapter, built on every `cli()` call (~6 s on a process's first) for row counts and
    column metadata flightline does not use (DuckDB lets one process write: orchestration/
    assets/dbt.py reads row counts after dbt exits), and without `dbt --version`."""

    def _initialize_dbt_core_adapter(self, args):
        if not enabled():
            return super()._initialize_dbt_core_adapter(args)
        return None

    @cached_property
    def _cli_version(self) -> Version:
        """dagster-dbt (0.29) runs `dbt --version` once a run (~3 s); ours is dbt-core's."""
        from orchestration.dbt_manifest import dbt_executable

        if not enabled() or Path(self.dbt_executable).parent != Path(dbt_executable()).parent:
            return super()._cli_version
        return Version(installed_version("dbt-core"))


# `dagster dev -m orchestration.definitions`'s code location, and Dagster's singleton repository.
CODE_LOCATION = "orchestration.definitions"
REPOSITORY = "__repository__"


def execute_as_ui_run(
    instance,
    job_name: str,
    run_config: dict,
    tags: dict[str, str],
    asset_selection: set | None,
    asset_check_selection: set | None,
):
    """Create a run of the code location's job as `dagster job launch` and the UI do (so the
    UI re-executes it and lists it under its job), and execute it here, in process (so a
    `flightline run` pays no process start per run). Returns Dagster's JobExecutionResult."""
    import sys

    from ingest.settings import REPO_ROOT

    repository = ReconstructableRepository.for_module(
        CODE_LOCATION, "defs", working_directory=str(REPO_ROOT)
    )
    reconstructable = repository.get_reconstructable_job(job_name)
    job = reconstructable.get_definition()
    if asset_selection is not None:
        job = job.get_subset(
            asset_selection=asset_selection, asset_check_selection=asset_check_selection
        )
    plan = create_execution_plan(
        job, run_config=run_config, instance_ref=instance.get_ref(), tags=tags
    )
    location = ManagedGrpcPythonEnvCodeLocationOrigin(
        loadable_target_origin=LoadableTargetOrigin(
            executable_path=sys.executable,
            module_name=CODE_LOCATION,
            working_directory=str(REPO_ROOT),
        ),
        location_name=CODE_LOCATION,
    )
    run = instance.create_run(
        job_name=job_name,
        run_id=None,
        run_config=run_config,
        status=None,
        tags=tags,
        root_run_id=None,
        parent_run_id=None,
        step_keys_to_execute=plan.step_keys_to_execute,
        execution_plan_snapshot=snapshot_from_execution_plan(plan, job.get_job_snapshot_id()),
        job_snapshot=job.get_job_snapshot(),
        parent_job_snapshot=job.get_parent_job_snapshot(),
        asset_selection=frozenset(asset_selection) if asset_selection is not None else None,
        asset_check_selection=(
            frozenset(asset_check_selection) if asset_selection is not None else None
        ),
        resolved_op_selection=None,
        op_selection=None,
        remote_job_origin=RemoteJobOrigin(
            repository_origin=RemoteRepositoryOrigin(location, REPOSITORY), job_name=job_name
        ),
        job_code_origin=reconstructable.get_python_origin(),
        asset_graph=job.asset_layer.asset_graph,
    )
    return execute_run(reconstructable, run, instance)


def instance_config_problems(directory: Path) -> list[str] | None:
    """What Dagster finds wrong in `directory`/dagster.yaml without starting the instance (and
    connecting to Postgres, Kubernetes): its schema, then each class's. None: modules moved."""
    try:
        from dagster._config import validate_config
        from dagster._core.errors import DagsterInvalidConfigError
        from dagster._core.instance.config import dagster_instance_config
    except ImportError:
        return None
    try:
        config, _ = dagster_instance_config(str(directory))
    except DagsterInvalidConfigError as error:
        return [str(error)]
    configured = {
        key: (value["module"], value["class"], value.get("config") or {})
        for key, value in config.items()
        if isinstance(value, dict) and {"module", "class"} <= value.keys()
    }
    if "postgres" in (config.get("storage") or {}):  # Dagster's DagsterPostgresStorage
        postgres = config["storage"]["postgres"]
        configured["storage"] = ("dagster_postgres", "DagsterPostgresStorage", postgres)
    problems = []
    for key, (module, name, values) in configured.items():
        try:
            klass = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as error:
            problems.append(f"{key}: {module}.{name} does not load ({error})")
            continue
        result = validate_config(klass.config_type(), values)
        problems += [f"{key} ({name}): {error.message}" for error in result.errors or ()]
    return problems


def fork_run_workers() -> bool:
    """A code server's runs forked from a process that imported the code once (orchestration/
    run_workers.py), where Dagster 1.13's DagsterApiServer spawns an interpreter per run that
    imports it all again (~7 s of CPU); each runs Dagster's own `start_run_in_subprocess`."""
    start_run = getattr(DagsterApiServer, "StartRun", None) if IMPORT_ERROR is None else None
    if start_run is None or "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    if not getattr(start_run, "forks_run_workers", False):

        def forking_start_run(self, request, context):
            use_forkserver(self)
            return start_run(self, request, context)

        forking_start_run.forks_run_workers = True
        DagsterApiServer.StartRun = forking_start_run
    return True


def use_forkserver(server) -> None:
    """The server's spawn context made the forkserver, started here (outside the server's lock);
    spawn for good once the code changed or if it cannot start. Off: FLIGHTLINE_FORK_RUNS=0."""
    context, stamp = getattr(server, "_mp_ctx", None), getattr(server, "flightline_code", None)
    if stamp is not None:  # decided at the first run
        if context.get_start_method() == "forkserver" and run_workers.code_stamp() != stamp:
            server._mp_ctx = multiprocessing.get_context("spawn")
        return
    spawns = context is not None and context.get_start_method() == "spawn"
    if not spawns or os.environ.get("FLIGHTLINE_FORK_RUNS") == "0" or not enabled():
        return
    server.flightline_code = run_workers.code_stamp()
    try:
        forkserver = multiprocessing.get_context("forkserver")
        forkserver.set_forkserver_preload([run_workers.PRELOAD])
        forkserver.Process(target=os.getpid).start()  # returns once its imports are done
    except Exception as error:  # a socket path too long (docs/facts.md), say
        warnings.warn(f"runs are spawned, not forked: {error!r}", stacklevel=1)
        return
    server._mp_ctx = forkserver
