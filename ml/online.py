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

import re
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
    recent: pd.DataFrame
    """The feature rows of the last `memory_days` flight days, as read_features returned
    them: an online request mostly asks for tomorrow's flights."""
    positions: dict[str, int]
    """flight_id -> its row in `recent` (a dict: pandas 3's Index.isin on Arrow strings
    walks every value in Python, ~30 ms a call on a week of 2013)."""


class OnlineScorer:
    """Scores flights from the snapshot at `path`, reopening it when it is replaced.
    Safe to share between threads (each call reads through a cursor of its own)."""

    def __init__(self, path: Path, memory_days: int = 7) -> None:
        self.path = path
        self.memory_days = memory_days
        self._lock = threading.Lock()
        self._current: Snapshot | None = None
        self._estimators: dict[str, Any] = {}

    def current(self) -> Snapshot:
        """The snapshot as published now: the open one, or the file that replaced it."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise Unavailable(
                f"no analysts' snapshot at {self.path}: `flightline run` publishes it after "
                "each run (or `flightline publish`)"
            ) from None
        stamp = (stat.st_ino, stat.st_mtime_ns)
        snapshot = self._current
        if snapshot is None or snapshot.stamp != stamp:
            with self._lock:
                if self._current is None or self._current.stamp != stamp:
                    # The one it replaces closes when the last request reading it is done.
                    self._current = self._open(stamp)
                snapshot = self._current
        return snapshot

    def score(self, flight_ids: list[str]) -> tuple[Snapshot, pd.DataFrame]:
        """The champion's predictions for `flight_ids`, one row each in their order (the
        columns of ml.predictions). Raises UnknownFlights naming those without feature rows."""
        snapshot = self.current()
        wanted = list(dict.fromkeys(flight_ids))
        rows = [snapshot.positions.get(flight_id) for flight_id in wanted]
        features = snapshot.recent.iloc[[row for row in rows if row is not None]]
        older = [flight_id for flight_id, row in zip(wanted, rows, strict=True) if row is None]
        if older:
            read = self._read(snapshot, older)
            features = pd.concat([features, read], ignore_index=True) if len(features) else read
        found = set(features.flight_id)
        unknown = [flight_id for flight_id in wanted if flight_id not in found]
        if unknown:
            raise UnknownFlights(unknown, snapshot)
        predictions = predict(snapshot.model, snapshot.estimator, features)
        return snapshot, predictions.set_index("flight_id").loc[flight_ids].reset_index()

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
        positions = {flight_id: row for row, flight_id in enumerate(recent.flight_id)}
        estimator = self._estimators[model.model_version]
        return Snapshot(
            self.path, stamp, con, published, through, model, estimator, recent, positions
        )


def valid_flight_id(value: str) -> bool:
    return re.fullmatch(FLIGHT_ID_PATTERN, value) is not None
