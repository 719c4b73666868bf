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
from datetime import date
from pathlib import Path

import duckdb

from ingest.catalog import FEEDS
from ingest.recorded import INPUTS_FILE, SHARED_FILES, NotRecorded, Recording, load
from ingest.settings import Settings
from ingest.warehouse import connect, quote_name


def _predictions(
    con: duckdb.DuckDBPyConnection, recording: Recording, scratch: Path, settings: Settings
) -> str:
    from ml.scoring import score_days

    model = _model(recording)
    scored = score_days(con, model, recording.arguments["days"])
    return f"scored {sum(day.rows for day in scored)} flights with {model.model_version}"


def _candidate_model(
    con: duckdb.DuckDBPyConnection, recording: Recording, scratch: Path, settings: Settings
) -> str:
    import pandas as pd

    from ingest.settings import REPO_ROOT
    from ml.features import prepare
    from ml.training import train_and_register
    from ml.training_config import TrainingConfig

    arguments = recording.arguments
    path = Path(recording.references["training_set"]["path"])
    if not path.is_file():
        raise NotRecorded(f"the training set {path} this run trained on is no longer there")
    config = TrainingConfig(
        cutoff=date.fromisoformat(arguments["cutoff"]),
        validation_days=arguments["validation_days"],
    )
    # Its artifacts go to the scratch folder: the pipeline's models/ is not written.
    frame = prepare(pd.read_parquet(path))
    run = train_and_register(
        con, scratch / "models", REPO_ROOT, config, arguments["trigger"], frame
    )
    return f"trained {run.model.model_version} ({run.result.chosen}) in {scratch / 'models'}"


def _drift(
    con: duckdb.DuckDBPyConnection, recording: Recording, scratch: Path, settings: Settings
) -> str:
    from ml.drift import DriftThresholds, drift_for_days

    thresholds = DriftThresholds(**recording.arguments["thresholds"])
    rows = drift_for_days(con, _model(recording), recording.arguments["days"], thresholds)
    return f"measured {len(rows)} drift rows, {int((rows.status == 'alert').sum())} alerting"


def _retraining_decision(
    con: duckdb.DuckDBPyConnection, recording: Recording, scratch: Path, settings: Settings
) -> str:
    from ml.monitoring import RetrainingPolicy, decide_retraining, gather_evidence

    policy = RetrainingPolicy(**recording.arguments["policy"])
    evidence = gather_evidence(con, _model(recording), policy)
    if evidence is None:
        return "no prediction of the champion had an outcome: nothing to decide"
    return decide_retraining(evidence, policy).reason


def _ingest(
    con: duckdb.DuckDBPyConnection, recording: Recording, scratch: Path, settings: Settings
) -> str:
    """The load again: its landed files (their kept copies, else found by their content in
    landing/ or quarantine/) copied into a scratch landing/, on its books and raw days, with
    the expectation suites of a copy of the data directory's Great Expectations project."""
    from ingest.catalog import FEEDS_BY_NAME
    from ingest.load.loader import Loader

    spec = FEEDS_BY_NAME[recording.arguments["feed"]]
    if "ingest.file_log" not in recording.tables:
        raise NotRecorded(
            f"{recording.step} of run {recording.run_id} was recorded before ingest recorded "
            "its books and raw days: nothing to replay it on"
        )
    landing, quarantine = scratch / "landing", scratch / "quarantine"
    for landed in recording.references["landed_files"]:
        if landed.get("status") == "deferred":  # changed while it was read: not loaded
            print(f"flightline debug: {landed['source']} was left for a later load: left out")
            continue
        _restore(settings, spec.name, landed["source"], landed.get("content_hash"), landing)
    quality = None
    if settings.quality.is_dir():
        quality = scratch / "quality"
        shutil.copytree(settings.quality, quality)
    loader = Loader(con, landing, quarantine, batch_id=recording.run_id, quality=quality)
    result = loader.load(spec, set(recording.arguments["partitions"]) or None)
    return (
        f"{spec.name}: {result.rows_loaded} rows loaded, {result.rows_quarantined} quarantined, "
        f"{len(result.files_quarantined)} file(s) quarantined, {result.skipped} unchanged"
    )


def _restore(settings: Settings, feed: str, source: str, digest: str | None, landing: Path):
    """Copy the landed file `source` with content `digest` to the scratch landing/: from
    landing/, or from quarantine/ where the load moved it."""
    from ingest.landing import digest_of
    from ingest.load.outcomes import UNREAD

    target = (landing / source).resolve()
    if landing.resolve() not in target.parents:
        raise NotRecorded(f"{source!r} is not a path inside landing/")
    name = Path(source).name
    candidates = [settings.landing / source]
    if digest:
        candidates[:0] = [settings.recorded / SHARED_FILES / f"{digest}.landed"]
    # Where the load moved it (ingest/load/quarantine.py: 12 hex of its hash, or "unread").
    candidates.append(settings.quarantine / feed / f"{(digest or UNREAD)[:12]}-{name}")
    for found in candidates:
        if digest is None and found.is_symlink():  # refused as a link: a link again
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(found, target, follow_symlinks=False)
        elif found.is_file() and (digest is None or digest_of(found) == digest):
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(found, target)
        else:
            continue
        if digest is None:
            print(
                f"flightline debug: {source} was refused before it was hashed: it is used "
                f"as it is now ({found})",
                flush=True,
            )
        return
    raise NotRecorded(
        f"{source}: the content the load read (sha256 {digest or 'not read'}) is neither kept "
        "with the recordings nor in landing/ or quarantine/ any more: nothing to replay it on"
    )


def _model(recording: Recording):
    from ml.registry import RegisteredModel

    return RegisteredModel(**recording.references["model"])


STEPS: dict[str, Callable[[duckdb.DuckDBPyConnection, Recording, Path, Settings], str]] = {
    **{f"ingest_{feed.name}": _ingest for feed in FEEDS},
    "predictions": _predictions,
    "candidate_model": _candidate_model,
    "drift": _drift,
    "retraining_decision": _retraining_decision,
}
"""Each recorded step and the function that runs it on a scratch warehouse (and a scratch
folder for what it writes beside the warehouse)."""


def scratch_folder(settings: Settings, recording: Recording) -> Path:
    return settings.home / "debug" / f"{recording.run_id}-{recording.step}"


def scratch_warehouse(settings: Settings, recording: Recording) -> duckdb.DuckDBPyConnection:
    """A new warehouse with the recording's relations, as they were copied."""
    folder = scratch_folder(settings, recording)
    shutil.rmtree(folder, ignore_errors=True)
    con = connect(folder / "warehouse.duckdb")
    owned = {f"{schema}.{name}" for schema, name in con.execute(TABLES_SQL).fetchall()}
    for relation, file in recording.tables.items():
        schema, table = (quote_name(part) for part in relation.split("."))
        rows = str(recording.directory / file)
        if relation in owned:  # the pipeline's own tables (ensure_tables made them, empty)
            con.execute(
                f"insert into {schema}.{table} by name select * from read_parquet(?)", [rows]
            )
        else:  # dbt's, as they were
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table {schema}.{table} as select * from read_parquet(?)", [rows])
    return con


TABLES_SQL = "select table_schema, table_name from information_schema.tables"


def debug(settings: Settings, run_id: str, step: str | None = None) -> str:
    """Run the step in this process on its recorded inputs; its exception propagates."""
    recording = load(settings, run_id, step)
    if recording.step not in STEPS:
        raise NotRecorded(
            f"{recording.step} of run {run_id} is recorded ({recording.directory / INPUTS_FILE}: "
            f"{', '.join(sorted(recording.references) or sorted(recording.arguments))}) but "
            f"`flightline debug` replays only {', '.join(STEPS)} so far"
        )
    if recording.not_copied:
        raise NotRecorded(
            f"{recording.step} of run {run_id} read {', '.join(recording.not_copied)} on the "
            "Spark engine: recorded by name, not copied, so there is nothing to replay it on"
        )
    ended = recording.outcome.get("error") or recording.outcome.get("status", "unknown")
    print(
        f"flightline debug: {recording.step} of run {run_id} (it ended: {ended}), on the "
        f"inputs recorded {recording.recorded_at}: copies of "
        f"{', '.join(recording.tables) or 'nothing'}; by reference: "
        f"{', '.join(recording.references) or 'nothing'}",
        flush=True,
    )
    con = scratch_warehouse(settings, recording)
    try:
        return STEPS[recording.step](con, recording, scratch_folder(settings, recording), settings)
    finally:
        con.close()
