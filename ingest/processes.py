"""What flightline asks of other processes: whether one still runs, for the files that name
one (the snapshot's publisher, ingest/publish.py; the Spark Connect server,
ingest/spark_server.py), and the warning filters a child process starts with."""

from __future__ import annotations

import os


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
