"""Dagster's SQLite event log, faster: connections kept, the schema probed once, a step's
batch of asset events in one transaction and one statement run for each row, each asset
key's row written once, a check's result by statements compiled once; the same rows as
Dagster's own storage (tests/orchestration/test_event_log.py and test_event_log_checks.py;
docs/performance.md).

Dagster 1.13's private storage classes: imported only by orchestration.dagster_private, whose
guard decides whether it serves (instance.py writes it into dagster.yaml)."""

import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager

from dagster import _check as check
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, DagsterEventType
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.event_log.schema import (
    AssetCheckExecutionsTable,
    AssetKeyTable,
    SqlEventLogStorageTable,
)
from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    INDEX_SHARD_NAME,
    SqliteEventLogStorage,
)
from dagster._core.storage.sql import create_engine
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster_shared.serdes import serialize_value
from sqlalchemy import Connection, Engine, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import SingletonThreadPool

ENGINES_AT_MOST = 8  # databases with an open engine: the index, the run(s), a few recent


def _is_asset_event(event: EventLogEntry) -> bool:
    return (
        event.is_dagster_event
        and event.dagster_event_type in ASSET_EVENTS
        and event.dagster_event_type not in ASSET_CHECK_EVENTS
        and event.dagster_event.asset_key is not None
    )


def _is_check_event(event: EventLogEntry) -> bool:
    return event.is_dagster_event and event.dagster_event_type in ASSET_CHECK_EVENTS


def _dispose_all(engines: OrderedDict[str, Engine]) -> None:
    while engines:
        engines.popitem()[1].dispose()


def _set_verdict(partition_is_null: bool):
    """The planned row of a check, run and partition, set to its verdict: the values and
    the key's come as parameters (`key_asset_key`, ...), so it compiles once."""
    table = AssetCheckExecutionsTable
    partition = (
        table.c.partition.is_(None)
        if partition_is_null
        else table.c.partition == bindparam("key_partition")
    )
    return table.update().where(
        table.c.asset_key == bindparam("key_asset_key"),
        table.c.check_name == bindparam("key_check_name"),
        table.c.run_id == bindparam("key_run_id"),
        partition,
    )


_SET_VERDICT = {True: _set_verdict(True), False: _set_verdict(False)}


def _inserted_ids(index: Connection, rows: list[dict]) -> list[int]:
    """Insert `rows` into the index's event log; their ids, in order. SQLite gives a new
    row the table's largest id plus one, and nothing else writes inside this transaction,
    so the ids are the last one's and the ones just before it: checked, not assumed."""
    index.execute(SqlEventLogStorageTable.insert(), rows)
    last = index.exec_driver_sql("select last_insert_rowid()").scalar_one()
    first = last - len(rows) + 1
    id_column = SqlEventLogStorageTable.c.id
    inserted = index.execute(
        select(func.count()).where(id_column >= first, id_column <= last)
    ).scalar_one()
    if inserted != len(rows):
        raise RuntimeError(f"event ids {first}..{last} are not the {len(rows)} rows inserted")
    return list(range(first, last + 1))


class BatchingSqliteEventLogStorage(SqliteEventLogStorage):
    def __init__(self, base_dir: str, inst_data=None) -> None:
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._held = threading.local()
        self._schema: set[tuple[str, str]] = set()  # tables and columns seen there
        super().__init__(base_dir, inst_data)
        self._db_lock = threading.RLock()
        # Closed at exit too (atexit, which `flightline` runs before os._exit): SQLite
        # checkpoints its WAL when a database's last connection closes.
        weakref.finalize(self, _dispose_all, self._engines)

    @classmethod
    def from_config_value(cls, inst_data, config_value) -> "BatchingSqliteEventLogStorage":
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, created (and the database initialised) on first use; called
        with the lock held."""
        engine = self._engines.get(shard)
        if engine is not None:
            self._engines.move_to_end(shard)
            return engine
        engine = create_engine(
            self.conn_string_for_shard(shard),
            poolclass=SingletonThreadPool,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
        )
        if shard not in self._initialized_dbs:
            self._initdb(engine)
            self._initialized_dbs.add(shard)
        self._engines[shard] = engine
        while len(self._engines) > ENGINES_AT_MOST:
            self._engines.popitem(last=False)[1].dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            held = self._connections_held()
            if held is not None and shard in held:
                yield held[shard]  # inside a batch's transaction
                return
            with self._engine(shard).connect() as conn, conn.begin():
                yield conn

    def _connections_held(self) -> dict[str, Connection] | None:
        """This thread's connections inside `_holding`'s transactions, else None."""
        return getattr(self._held, "connections", None)

    @contextmanager
    def _holding(self, run_id: str) -> Iterator[dict[str, Connection]]:
        """One transaction on the run's database and one on the index, which every write
        inside uses (`_connect`), committed at the end, the run's first."""
        with self._db_lock, ExitStack() as stack:
            held = {}
            # The index entered first, so committed last, as Dagster writes: the run's log,
            # then the index (a failed commit of the run's leaves nothing in the index).
            for shard in (INDEX_SHARD_NAME, run_id):
                conn = stack.enter_context(self._engine(shard).connect())
                stack.enter_context(conn.begin())
                held[shard] = conn
            self._held.connections = held
            try:
                yield held
            finally:
                self._held.connections = None

    def store_event(self, event: EventLogEntry) -> None:
        """Dagster's, but a check's result in one transaction a database on connections
        already open, by statements compiled once (`_store_check_result`)."""
        if self._connections_held() is None and _is_check_event(event) and event.run_id:
            updated = 1
            with self._holding(event.run_id) as held:
                if event.dagster_event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
                    run, index = held[event.run_id], held[INDEX_SHARD_NAME]
                    updated = self._store_check_result(event, run, index)
                else:
                    super().store_event(event)
            if updated > 1:  # as Dagster's: raised once the writes are committed
                raise DagsterInvariantViolationError(
                    f"Updated {updated} rows for asset check evaluation "
                    f"{event.dagster_event.event_specific_data.asset_check_key} as a result "
                    "of duplicate AssetCheckPlanned events."
                )
            return
        super().store_event(event)

    def _store_check_result(self, event: EventLogEntry, run: Connection, index: Connection) -> int:
        """`store_event` of a check's result in a run (SqliteEventLogStorage, and
        SqlEventLogStorage._update_asset_check_evaluation, dagster 1.13): the same writes
        (the run's log, the index's copy, the check's row set from planned to its verdict,
        or inserted where nothing was planned), the event serialised once, each statement
        compiled once with its values as parameters, where Dagster's statements carry their
        values and SQLAlchemy keys each anew: ~1.0 -> ~0.6 ms a result (~1,800 a cold year).
        The rows the check's row update touched (more than one: the caller raises)."""
        check.invariant(  # as Dagster's own, for a schema that predates checks
            self.supports_asset_checks,
            "Asset checks require a database schema migration. Run `dagster instance migrate`.",
        )
        row = self._event_to_row(event)
        run.execute(SqlEventLogStorageTable.insert(), row)
        event_id = index.execute(SqlEventLogStorageTable.insert(), row).inserted_primary_key[0]
        evaluation = event.dagster_event.event_specific_data
        target = evaluation.target_materialization_data
        status = AssetCheckExecutionRecordStatus
        values = {
            "execution_status": (status.SUCCEEDED if evaluation.passed else status.FAILED).value,
            "evaluation_event": row["event"],
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
            "materialization_event_storage_id": target.storage_id if target else None,
            "partition": evaluation.partition,
        }
        key = {
            "asset_key": evaluation.asset_key.to_string(),
            "check_name": evaluation.check_name,
            "run_id": event.run_id,
        }
        where = {f"key_{name}": value for name, value in key.items()}
        if evaluation.partition is not None:
            where["key_partition"] = evaluation.partition
        updated = index.execute(_SET_VERDICT[evaluation.partition is None], where | values)
        if updated.rowcount == 0:  # nothing planned (a step launcher's run, say)
            return index.execute(AssetCheckExecutionsTable.insert(), key | values).rowcount
        return updated.rowcount

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        run_ids = {event.run_id for event in events}
        if len(run_ids) != 1 or self._connections_held() is not None:
            super().store_event_batch(events)
            return
        run_id = run_ids.pop()
        with self._holding(run_id) as held:
            if all(_is_asset_event(event) for event in events):
                self._store_asset_events(events, held[run_id], held[INDEX_SHARD_NAME])
                return
            for event in events:
                self.store_event(event)

    def _store_asset_events(
        self, events: Sequence[EventLogEntry], run: Connection, index: Connection
    ) -> None:
        """`store_event` of asset events (SqliteEventLogStorage, dagster 1.13) for a batch:
        the rows inserted by one statement run for each (`executemany`: compiled once, where
        an insert a row cost ~0.25 ms of SQLAlchemy's work), the batch's tags in one insert,
        and each asset key's row written once (`_store_asset_keys`)."""
        rows = [self._event_to_row(event) for event in events]
        run.execute(SqlEventLogStorageTable.insert(), rows)
        ids = _inserted_ids(index, rows)
        self._store_asset_event_tags(index, events, ids)
        self._store_asset_keys(index, events, ids)

    def _store_asset_keys(
        self, index: Connection, events: Sequence[EventLogEntry], ids: Sequence[int]
    ) -> None:
        """`_store_asset_event` (dagster 1.13) of every event in order, written once an
        asset key: its row ends as the events, one after another, would leave it.

        Each event sets its row's columns to values of its own (the last materialization,
        the last run, a timestamp), and which columns depends only on the event's type; so
        the last event of each type decides, and those are merged in the batch's order. A
        cold year's ingest step writes 365 materializations of one key in one batch: one
        row write in place of 365 inserts that fail into an update (2.4 s of a cold year)."""
        has_columns = self._has_asset_key_index_cols_on_connection(index)
        last: dict[tuple[str, object], tuple[EventLogEntry, int]] = {}  # in last-seen order
        writes: dict[tuple[str, object], bool] = {}
        rows: dict[str, dict] = {}  # a new key's row is inserted when its first value comes
        for event, event_id in zip(events, ids, strict=True):
            kind = (event.dagster_event.asset_key.to_string(), event.dagster_event_type)
            if kind not in writes:
                writes[kind] = bool(self._get_asset_entry_values(event, event_id, has_columns))
            if writes[kind]:
                rows.setdefault(kind[0], {})
            last.pop(kind, None)
            last[kind] = (event, event_id)
        for (key, _), (event, event_id) in last.items():
            if key in rows:
                rows[key].update(self._get_asset_entry_values(event, event_id, has_columns))
        for key, values in rows.items():
            try:
                index.execute(AssetKeyTable.insert().values(asset_key=key, **values))
            except IntegrityError:  # the key has a row: as Dagster does, update it
                index.execute(
                    AssetKeyTable.update().values(**values).where(AssetKeyTable.c.asset_key == key)
                )

    def _store_asset_check_evaluation_planned(
        self, event: EventLogEntry, event_id: int | None
    ) -> None:
        """SqlEventLogStorage's (dagster 1.13), the same rows, the event serialised once."""
        planned = event.dagster_event.event_specific_data
        subset = planned.partitions_subset
        partition_keys = list(subset.get_partition_keys()) if subset else [None]
        if not partition_keys:
            return
        common = {
            "asset_key": planned.asset_key.to_string(),
            "check_name": planned.check_name,
            "run_id": event.run_id,
            "execution_status": AssetCheckExecutionRecordStatus.PLANNED.value,
            "evaluation_event": serialize_value(event),
            "evaluation_event_timestamp": self._event_insert_timestamp(event),
            "evaluation_event_storage_id": event_id,
        }
        with self.index_connection() as conn:
            conn.execute(
                AssetCheckExecutionsTable.insert(),
                [{**common, "partition": key} for key in partition_keys],
            )

    def has_table(self, table_name: str) -> bool:
        """Once: a table or column once there stays (`dagster instance migrate` adds them);
        a missing one is asked again."""
        if ("table", table_name) not in self._schema:
            if not super().has_table(table_name):
                return False
            self._schema.add(("table", table_name))
        return True

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        if ("column", column_name) not in self._schema:
            if not super()._has_asset_key_col_on_connection(conn, column_name):
                return False
            self._schema.add(("column", column_name))
        return True

    def _dispose_engines(self) -> None:
        with self._db_lock:
            _dispose_all(self._engines)

    def wipe(self) -> None:
        self._dispose_engines()  # before the run databases are deleted
        super().wipe()

    def dispose(self) -> None:
        self._dispose_engines()
        super().dispose()
