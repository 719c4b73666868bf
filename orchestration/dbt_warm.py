"""Readying a process that has imported dbt to be forked (orchestration/dbt_fork.py's server):
dbt's first invocation done once in it, what that invocation leaves in dbt's globals undone,
and no thread left behind. Imports only the standard library until `warm_up` is called."""

from __future__ import annotations

import gc
import os
from pathlib import Path


def warm_up() -> bool:
    """Two `dbt parse` of the project into a folder thrown away, before the server listens
    (no child forks from the middle of one); True if both parsed. dbt's first invocation in
    a process generates the (de)serialisation code of its artifacts' dataclasses (mashumaro:
    the manifest, the partial-parse state, the run results): ~1 s of CPU that every child
    paid again (a forked evaluation build 2.7-2.9 -> 1.3-1.4 s). Parse opens no connection
    (the duckdb target, an in-memory database). What the parses leave in dbt's globals is
    undone: the adapter and its manifest, the event loggers (their file is thrown away),
    the deprecations already shown (a child would not show them again). Without the static
    parser: dbt-extractor parses on a pool of Rust threads that stays, and a fork of a
    process with threads inherits none of them (a child's full parse waited forever)."""
    import tempfile

    from dbt import deprecations
    from dbt.adapters.factory import reset_adapters
    from dbt.cli.main import dbtRunner
    from dbt_common.events.event_manager_client import cleanup_event_logger

    from ingest.settings import DBT_PROJECT_DIR as project

    saved = dict(os.environ)
    os.environ.update(DBT_TARGET="dev", FLIGHTLINE_WAREHOUSE=":memory:")
    parsed = []
    try:
        with tempfile.TemporaryDirectory(prefix="flightline-dbt-warm-up-") as folder:
            args = ["parse", "--quiet", "--no-static-parser", "--project-dir", str(project)]
            args += ["--profiles-dir", str(project), "--target-path", folder, "--log-path", folder]
            for _ in range(2):  # the second reads the first's partial-parse state
                parsed.append(dbtRunner().invoke(args).success)
    except Exception:  # a warm-up: the children parse for themselves
        parsed.append(False)
    finally:
        os.environ.clear()
        os.environ.update(saved)
        reset_adapters()
        cleanup_event_logger()
        deprecations.reset_deprecations()
        deprecations.buffered_deprecations.clear()
        gc.collect()
    return len(parsed) == 2 and all(parsed)


def threads(pid: int | str = "self") -> int:
    """A process's threads, this one's by default (1 where /proc does not say)."""
    tasks = Path(f"/proc/{pid}/task")
    return len(list(tasks.iterdir())) if tasks.is_dir() else 1
