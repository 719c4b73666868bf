"""What flightline asks of other processes: whether one still runs, for the files that name
one (the snapshot's publisher, ingest/publish.py; the Spark Connect server,
ingest/spark_server.py), the warning filters a child process starts with (for a fork,
which does not read PYTHONWARNINGS again, applied in it), and how a process of ours ends
without tearing the interpreter down."""

from __future__ import annotations

import atexit
import builtins
import contextlib
import os
import re
import sys
import warnings
from collections.abc import Callable


def process_alive(pid: int) -> bool:
    """Whether a process of this id exists (another user's too)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def python_warnings(*entries: str) -> str:
    """PYTHONWARNINGS for a child process: this process's, then `entries` (each
    `action:message[:category]`, as Python's -W reads it; a later entry takes precedence)."""
    return ",".join(filter(None, [os.environ.get("PYTHONWARNINGS"), *entries]))


def apply_python_warnings(value: str) -> None:
    """Apply a PYTHONWARNINGS value (`action:message:category:module:line`, comma-separated)
    in this process, which an interpreter reads once as it starts and a fork does not: a
    forked dbt takes its caller's (orchestration/dbt_fork.py), where the Spark engine's dbt
    is asked to ignore PySpark's "Failed to set" (ingest/spark_server.py). As Python reads
    them: the message a literal prefix, the later entries first, an action abbreviated; a
    malformed entry, or a category that is not a built-in warning, ignored."""
    actions = ("default", "error", "ignore", "always", "module", "once")
    for entry in filter(str.strip, value.split(",")):
        fields = entry.split(":")
        if len(fields) > 5:
            continue
        action, message, category, module, line = [*fields, "", "", "", ""][:5]
        # An action may be abbreviated (`i` for ignore), as on Python's -W.
        action = next((a for a in actions if a.startswith(action.strip() or "default")), "")
        kind = getattr(builtins, category.strip(), None) if category.strip() else Warning
        if not action or not (isinstance(kind, type) and issubclass(kind, Warning)):
            continue
        with contextlib.suppress(ValueError):
            warnings.filterwarnings(
                action,
                re.escape(message.strip()),
                kind,
                re.escape(module.strip()) + r"\Z" if module.strip() else "",
                int(line.strip() or 0),
            )


def exit_without_teardown(code: int, last_words: Callable[[], None] | None = None) -> None:
    """End this process as an exiting interpreter would, less the teardown of its modules
    (whose last garbage collection of Dagster's, dbt's and GX's objects took 0.8-1.9 s): the
    atexit handlers (logging's flush, multiprocessing's joins, DuckDB and SQLite closed), each
    stream flushed, `last_words` (the dbt fork server's exit line), then `os._exit`. Where
    CPython's `atexit._run_exitfuncs` is missing, the interpreter's own exit."""
    run_exit_handlers = getattr(atexit, "_run_exitfuncs", None)
    if run_exit_handlers is not None:
        run_exit_handlers()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing left to say
            stream.flush()
    if last_words is not None:
        last_words()
    if run_exit_handlers is None:
        sys.exit(code)
    os._exit(code)
