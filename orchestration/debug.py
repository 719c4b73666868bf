"""`flightline debug RUN_ID [STEP]`: a run's step again, on the inputs it recorded
(ingest/recorded.py), in this Python process: `breakpoint()`, `python -m pdb` or an IDE's
debugger stop inside the step's own function, on the data it saw, however far the warehouse
has moved on since (docs/debugging.md).

The recorded relations are rebuilt in a scratch warehouse of their own,
`<data>/debug/<run_id>-<step>/warehouse.duckdb`, beside every table the pipeline owns (empty):
the step runs there exactly as it ran, its SQL unchanged, and the pipeline's warehouse is
neither read nor written.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable

import duckdb

from ingest.recorded import NotRecorded, Recording, load
from ingest.settings import Settings
from ingest.warehouse import connect, quote_name


def _predictions(con: duckdb.DuckDBPyConnection, recording: Recording) -> str:
    from ml.registry import RegisteredModel
    from ml.scoring import score_days

    model = RegisteredModel(**recording.references["model"])
    scored = score_days(con, model, recording.arguments["days"])
    return f"scored {sum(day.rows for day in scored)} flights with {model.model_version}"


STEPS: dict[str, Callable[[duckdb.DuckDBPyConnection, Recording], str]] = {
    "predictions": _predictions,
}
"""Each recorded step and the function that runs it on a scratch warehouse."""


def scratch_warehouse(settings: Settings, recording: Recording) -> duckdb.DuckDBPyConnection:
    """A new warehouse with the recording's relations, as they were copied."""
    path = settings.home / "debug" / f"{recording.run_id}-{recording.step}" / "warehouse.duckdb"
    shutil.rmtree(path.parent, ignore_errors=True)
    con = connect(path)
    for relation, file in recording.tables.items():
        schema, table = (quote_name(part) for part in relation.split("."))
        con.execute(f"create schema if not exists {schema}")
        con.execute(
            f"create table {schema}.{table} as select * from read_parquet(?)",
            [str(recording.directory / file)],
        )
    return con


def debug(settings: Settings, run_id: str, step: str | None = None) -> str:
    """Run the step in this process on its recorded inputs; its exception propagates."""
    recording = load(settings, run_id, step)
    if recording.step not in STEPS:
        raise NotRecorded(f"{recording.step} is recorded but cannot be debugged yet")
    ended = recording.outcome.get("error") or recording.outcome.get("status", "unknown")
    print(
        f"flightline debug: {recording.step} of run {run_id} (it ended: {ended}), on the "
        f"inputs recorded {recording.recorded_at}: {', '.join(recording.tables) or 'none'}",
        flush=True,
    )
    con = scratch_warehouse(settings, recording)
    try:
        return STEPS[recording.step](con, recording)
    finally:
        con.close()
