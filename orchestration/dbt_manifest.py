"""The dbt manifest that dagster-dbt builds its assets from.

`DbtProject.prepare_if_dev()` only acts under `dagster dev`; the CLI, tests and CI must
produce target/manifest.json themselves before importing orchestration.definitions.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from ingest.settings import DBT_PROJECT_DIR, Settings, source_stamp

SOURCE_DIRS = ("models", "macros", "seeds", "tests")


def dbt_executable() -> str:
    """dbt from this interpreter's environment (`.venv/bin/python -m ...` or `dagster dev`
    started without activating the venv would otherwise not find `dbt` on PATH), started
    through `flightline-dbt` (orchestration/dbt_fork.py: the same command without its ~4 s
    import) unless FLIGHTLINE_DBT_FORK=0."""
    folder = Path(sys.executable).parent
    forked = folder / "flightline-dbt"
    if forked.exists() and os.environ.get("FLIGHTLINE_DBT_FORK", "1") != "0":
        return str(forked)
    return str(folder / "dbt") if (folder / "dbt").exists() else "dbt"


def manifest_path() -> Path:
    return DBT_PROJECT_DIR / "target" / "manifest.json"


def manifest_is_stale() -> bool:
    manifest = manifest_path()
    return not manifest.exists() or _changed_since(manifest.stat().st_mtime_ns)


# What dbt's partial parsing compares besides the files: the profile as rendered (the
# warehouse path and settings come from these) and the --vars (none: see ingest/windows.py).
PARSE_ENV = (
    "FLIGHTLINE_HOME",
    "FLIGHTLINE_WAREHOUSE",
    "FLIGHTLINE_DUCKDB_MEMORY",
    "DBT_TARGET",
    "FLIGHTLINE_ENGINE",  # picks the profile's default target (docs/spark.md)
    "FLIGHTLINE_SPARK_MEMORY",
    "FLIGHTLINE_SPARK_PARTITIONS",
    "FLIGHTLINE_SPARK_JAVA_OPTIONS",
)


def prepare_partial_parse(settings: Settings) -> Path:
    """Give this data directory's dbt invocations a partial-parse state they can use.

    dagster-dbt runs each invocation in a fresh target folder under $DBT_TARGET_PATH and
    copies $DBT_TARGET_PATH/partial_parse.msgpack into it. dbt throws that state away and
    parses the whole project (~5 s on 2 cores, per invocation) unless it was written with
    the same rendered profile and --vars. So: parse once per data directory, with the
    environment the runs will have, again only when the project or that environment
    changes; point DBT_TARGET_PATH at it (which also keeps each run's artifacts under the
    data directory instead of dbt_project/target)."""
    target = settings.dbt_runs
    state = target / "partial_parse.msgpack"
    stamp = target / "parse-environment.json"
    environment = json.dumps({name: os.environ.get(name) for name in PARSE_ENV}, sort_keys=True)
    fresh = (
        state.exists()
        and stamp.exists()
        and stamp.read_text() == environment
        and not _changed_since(state.stat().st_mtime_ns)
    )
    if not fresh:
        target.mkdir(parents=True, exist_ok=True)
        _parse(["--target-path", str(target)])
        stamp.write_text(environment)
    os.environ["DBT_TARGET_PATH"] = str(target)
    return state


def prepare_dbt(settings: Settings) -> None:
    """What every command that runs dbt needs first: the manifest (dagster-dbt reads it at
    import) and the data directory's partial-parse state."""
    ensure_manifest()
    prepare_partial_parse(settings)


@contextmanager
def prepared_meanwhile(settings: Settings) -> Iterator[None]:
    """The manifest and the data directory's parse state made ready in a thread while the
    caller's block runs (a cold `flightline run` exports the year meanwhile). dbt parses in
    another process (flightline-dbt's server, which a first call starts and warms up), so
    the thread only waits: on a fresh clone the parses and the server's start, ~6.5 s, and
    the export, ~3-5 s, overlap on two cores. The parse's error is raised after the block
    (or added as a note to the block's own). The thread sets DBT_TARGET_PATH
    (prepare_partial_parse): the block must not read it or start processes (importing the
    run's modules meanwhile is what `flightline run` does)."""
    with ThreadPoolExecutor(1, thread_name_prefix="dbt-parse") as pool:
        prepared = pool.submit(prepare_dbt, settings)
        try:
            yield
        except BaseException as error:
            if prepared.done() and prepared.exception() is not None:
                error.add_note(f"meanwhile dbt's parse failed too: {prepared.exception()}")
            raise
        prepared.result()


def _changed_since(built_ns: int) -> bool:
    sources = ("dbt_project.yml", "profiles.yml", *SOURCE_DIRS)
    return source_stamp(DBT_PROJECT_DIR / name for name in sources)[0] > built_ns


def _parse(args: list[str]) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "DBT_TARGET_PATH"}
    completed = subprocess.run(
        [dbt_executable(), "parse", "--quiet", "--profiles-dir", ".", *args],
        cwd=DBT_PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(
            "dbt parse failed; fix the dbt project and run again:\n"
            + completed.stdout
            + completed.stderr
        )


def ensure_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when the manifest is missing or older than the project's files."""
    if force or manifest_is_stale():
        _parse([])
    return manifest_path()
