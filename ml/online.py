"""Online inference: one flight's score now, from the analysts' snapshot, equal to the
batch pipeline's score.

The feature rows of tomorrow's flights exist the evening before (dbt builds them from the
schedules), and each run publishes them, with the registry, in the analysts' snapshot
(ingest/publish.py). The scorer reads that snapshot through the one feature code path
(`ml.features.read_features`) and scores with the batch pipeline's own function
(`ml.scoring.predict`): there is no second feature path for serving to drift from the
first. A new snapshot (a new day's rows, a new champion) is picked up by the next request,
without a restart: `publish_snapshot` os.replace()s the file, which gives it a new inode.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ingest.warehouse import duckdb_config
from ml.features import FEATURE_RELATION, read_features
from ml.registry import RegisteredModel, RegistryError, champion
from ml.scoring import predict

FLIGHT_ID_PATTERN = r"^[0-9a-f]{32}$"
"""A flight_id is the md5 (32 lowercase hex digits) fct_flights gives each scheduled flight."""
MAX_BATCH = 1000
"""Flights per batch call: ~60 ms of scoring; past that the batch pipeline is the tool."""


class Unavailable(Exception):
    """Nothing can be scored (HTTP 503): no snapshot, no features, no champion or no model
    artifact. The message says which and what to do."""


class UnknownFlights(LookupError):
    """Flights the snapshot has no feature rows for (HTTP 404)."""

    def __init__(self, flight_ids: list[str], snapshot: Snapshot) -> None:
        self.flight_ids = flight_ids
        shown = ", ".join(flight_ids[:10]) + (" ..." if len(flight_ids) > 10 else "")
        super().__init__(
            f"{len(flight_ids)} unknown flight_id(s): {shown}. The snapshot published "
            f"{snapshot.published_at} has feature rows for flights through "
            f"{snapshot.features_through} (a day's flights appear the evening before, once "
            "their schedules have landed and the pipeline has run)"
        )


@dataclass(frozen=True)
class Snapshot:
    """One published snapshot, opened, with the champion it names."""

    path: Path
    stamp: tuple[int, int]
    con: duckdb.DuckDBPyConnection
    published_at: datetime | None
    features_through: date | None
    model: RegisteredModel
    estimator: Any
    scores: dict[str, dict[str, Any]]
    """flight_id -> the champion's prediction (a row of ml.predictions, as plain Python
    values) for the flights of the last `memory_days` flight days (an online request mostly
    asks for tomorrow's), made when the snapshot was opened: the same read_features and
    predict on the same rows as a request would run, once per snapshot instead of once per
    request (~15 ms of scikit-learn and pandas for one row, and ~4 ms more to make a frame's
    row a dict). A dict, not a frame: pandas 3's Index.isin on Arrow strings walks every
    value in Python, ~30 ms a call on a week of 2013."""


class OnlineScorer:
    """Scores flights from the snapshot at `path`, reopening it when it is replaced.
    Safe to share between threads (each call reads through a cursor of its own)."""

    def __init__(self, path: Path, memory_days: int = 7) -> None:
        self.path = path
        self.memory_days = memory_days
        self._lock = threading.Lock()
        self._current: Snapshot | None = None
        self._estimators: dict[str, Any] = {}

    def _stamp(self) -> tuple[int, int]:
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise Unavailable(
                f"no analysts' snapshot at {self.path}: `flightline run` publishes it after "
                "each run (or `flightline publish`)"
            ) from None
        return stat.st_ino, stat.st_mtime_ns

    def current(self) -> Snapshot:
        """The snapshot as published now: the open one, or the file that replaced it."""
        stamp = self._stamp()
        snapshot = self._current
        if snapshot is None or snapshot.stamp != stamp:
            with self._lock:
                if self._current is None or self._current.stamp != stamp:
                    # The one it replaces closes when the last request reading it is done.
                    self._current = self._open(stamp)
                snapshot = self._current
        return snapshot

    def kept(self, flight_ids: list[str]) -> tuple[Snapshot, list[dict[str, Any]]] | None:
        """What `score` answers, when it needs no I/O beyond a stat(): the open snapshot is
        the published one and keeps every flight asked for. None otherwise (call `score`,
        off the event loop: it may read the snapshot or open a new one)."""
        snapshot = self._current
        try:
            if snapshot is None or snapshot.stamp != self._stamp():
                return None
            return snapshot, [snapshot.scores[flight_id] for flight_id in flight_ids]
        except (KeyError, Unavailable):
            return None

    def score(self, flight_ids: list[str]) -> tuple[Snapshot, list[dict[str, Any]]]:
        """The champion's predictions for `flight_ids`, one each in their order (the columns
        of ml.predictions). Raises UnknownFlights naming those without feature rows."""
        snapshot = self.current()
        kept, scored = snapshot.scores, {}
        older = [flight_id for flight_id in dict.fromkeys(flight_ids) if flight_id not in kept]
        if older:
            features = self._read(snapshot, older)
            scored = records(predict(snapshot.model, snapshot.estimator, features))
            unknown = [flight_id for flight_id in older if flight_id not in scored]
            if unknown:
                raise UnknownFlights(unknown, snapshot)
        return snapshot, [kept.get(flight_id) or scored[flight_id] for flight_id in flight_ids]

    @staticmethod
    def _read(snapshot: Snapshot, flight_ids: list[str]) -> pd.DataFrame:
        cursor = snapshot.con.cursor()  # a connection is not shared between threads
        try:
            cursor.execute("use snapshot")  # a cursor starts in the in-memory database
            return read_features(cursor, flight_ids=flight_ids)
        finally:
            cursor.close()

    def _open(self, stamp: tuple[int, int]) -> Snapshot:
        # Attached to an in-memory database of its own, not duckdb.connect(path): DuckDB keeps
        # one database instance per path in a process, and a connect() to the path while the
        # replaced snapshot is still open would return the old file (the old inode) again.
        con = duckdb.connect(config=duckdb_config())
        try:
            con.execute("attach ? as snapshot (read_only)", [str(self.path)])
            con.execute("use snapshot")
        except duckdb.Error as error:
            con.close()
            raise Unavailable(f"the snapshot {self.path} cannot be opened: {error}") from error
        try:
            return self._load(con, stamp)
        except BaseException:
            con.close()
            raise

    def _load(self, con: duckdb.DuckDBPyConnection, stamp: tuple[int, int]) -> Snapshot:
        tables = {
            f"{schema}.{name}"
            for schema, name in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_catalog = 'snapshot'"
            ).fetchall()
        }
        if FEATURE_RELATION not in tables or "ml.model_registry" not in tables:
            raise Unavailable(
                f"the snapshot {self.path} has no {FEATURE_RELATION} or no ml.model_registry: "
                "the pipeline has not built features and trained a model yet (flightline run)"
            )
        model = champion(con, read_only=True)
        if model is None:
            raise Unavailable(
                f"no champion in the snapshot's ml.model_registry ({self.path}): the promotion "
                "gate has not promoted a model yet (flightline run trains and gates one)"
            )
        if model.model_version not in self._estimators:
            try:
                self._estimators[model.model_version] = model.load()
            except RegistryError as error:
                raise Unavailable(str(error)) from error
        published = con.execute(
            "select max(published_at) from meta.snapshot_info"
            if "meta.snapshot_info" in tables
            else "select null::timestamptz"
        ).fetchone()[0]
        (through,) = con.execute(f"select max(flight_date) from {FEATURE_RELATION}").fetchone()
        if through is None:
            raise Unavailable(f"the snapshot's {FEATURE_RELATION} is empty: nothing to score")
        recent = read_features(con, start=through - timedelta(days=self.memory_days - 1))
        estimator = self._estimators[model.model_version]
        scores = records(predict(model, estimator, recent))
        return Snapshot(self.path, stamp, con, published, through, model, estimator, scores)


def records(predictions: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """flight_id -> its prediction as plain Python values (what JSON gets)."""
    return {row["flight_id"]: row for row in predictions.to_dict("records")}
