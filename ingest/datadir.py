"""The data directory as a place one flightline process works in at a time, private to its
owner (and group).

- `prepare_home` creates it with mode 0750 (existing: tightened to it) and sets the process
  umask to 027, so the warehouse, quarantined records, models and logs are not readable by
  other users of a shared machine.
- `hold` takes an exclusive lock on `<home>/.flightline.lock` (flock): a second `flightline`
  command on the same data directory stops at once with one line naming the first. The
  kernel releases the lock when its process dies, however it dies, so "a run whose process
  is gone" is "a run started while nobody holds the lock": no PID to be reused, no stale file
  to clean up (orchestration/launcher.recover_abandoned_runs).
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ingest.settings import Settings

HOME_MODE = 0o750
UMASK = 0o027


class DataDirBusy(RuntimeError):
    """Another flightline process holds the data directory."""


def prepare_home(settings: Settings) -> Path:
    os.umask(UMASK)
    home = settings.home
    home.mkdir(parents=True, exist_ok=True)
    if home.stat().st_uid == os.getuid():
        home.chmod(HOME_MODE)
    return home


@contextmanager
def hold(settings: Settings, command: str | None = None) -> Iterator[None]:
    """Hold the data directory for the duration of a command (see the module)."""
    home = prepare_home(settings)
    path = home / ".flightline.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o640)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "unknown"
            raise DataDirBusy(
                f"another flightline command is running on {home} ({holder}); wait for it "
                "to finish, or stop it, then run again"
            ) from None
        what = command or " ".join(["flightline", *sys.argv[1:2]])
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, `{what}`, since {time.strftime('%H:%M:%S')}".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock
