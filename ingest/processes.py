"""Whether a process still runs, for the files that name one: the snapshot's publisher
(ingest/publish.py) and the Spark Connect server (ingest/spark_server.py)."""

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
