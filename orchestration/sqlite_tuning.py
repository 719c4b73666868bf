"""SQLite settings for the Dagster instance's own files, in this process: an fsync-free
commit and one idle connection held per database. No Dagster API is used (a SQLAlchemy
connect hook), but it is tuned to how Dagster's SQLite storage (1.13) connects, so it is
applied only where orchestration/dagster_private/'s code is (`enabled()`: see
orchestration/instance.py)."""

import atexit
import sqlite3
from collections import OrderedDict
from pathlib import Path

_HELD: OrderedDict[str, sqlite3.Connection] = OrderedDict()
_HOLD_AT_MOST = 8
_TUNED: set[str] = set()


def speed_up_event_storage(home: Path) -> None:
    """Make Dagster's SQLite storage under `home` cheaper per event, for this process.

    Dagster (1.13, SQLite storage) opens a new SQLite connection for every write and closes
    it after one transaction; a year-long run writes ~6,000 events (one materialization per
    asset and day, one check result per day), and each cost ~30 ms, mostly SQLite's own work:
    an fsync per commit, and, as the last connection to a WAL database closes, a checkpoint
    and the deletion of the WAL file. Two changes, on connections to files under `home` only:
    - `PRAGMA synchronous=NORMAL`: in WAL mode the database stays consistent on a crash;
      a power cut can lose the last events; the planner reads the event log, so it then
      redoes the work they recorded, and a day whose features lost their record is
      scored again after `flightline run --from D --to D` records them anew;
    - one idle connection held open per database file (the latest few), so that closing
      Dagster's connection is not the last close: no checkpoint per event. SQLite
      checkpoints as the WAL grows (every 1,000 pages) instead.
    """
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    _TUNED.add(str(home.resolve()))
    if not event.contains(Engine, "connect", _tune):
        event.listen(Engine, "connect", _tune)


def _tune(connection, _record) -> None:
    if not isinstance(connection, sqlite3.Connection):
        return
    path = connection.execute("pragma database_list").fetchone()[2]
    if not path or not any(path.startswith(root) for root in _TUNED):
        return
    connection.execute("pragma synchronous=normal")
    if path in _HELD:
        _HELD.move_to_end(path)
        return
    # Hold only a database already in WAL mode (a new one is switched by Dagster's init).
    if connection.execute("pragma journal_mode").fetchone()[0] != "wal":
        return
    held = sqlite3.connect(path, check_same_thread=False)
    held.execute("select count(*) from sqlite_master").fetchone()  # joins the WAL
    _HELD[path] = held
    while len(_HELD) > _HOLD_AT_MOST:
        _HELD.popitem(last=False)[1].close()


def _close_held() -> None:
    """At exit (atexit, which `flightline` runs before os._exit): SQLite checkpoints a
    database's WAL into it when its last connection closes."""
    while _HELD:
        _HELD.popitem()[1].close()


atexit.register(_close_held)
