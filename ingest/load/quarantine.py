"""Quarantine: rows that cannot load go to ingest.quarantined_rows with their reason, files
that cannot load move to quarantine/<feed>/ with a `.reason.txt` beside them, a correction
with failing rows is held there whole, and an operator can accept a held file."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from ingest.catalog import FEEDS_BY_NAME, FeedSpec
from ingest.landing import stage
from ingest.load.batch import Batch, drop_files
from ingest.load.outcomes import FileOutcome
from ingest.load.readers import record_json
from ingest.warehouse import execute

# A file name kept in quarantine/ is `<12 hex of its hash>-<name>`; names are cut to fit the
# file system's 255 bytes with `.reason.txt` after them.
_QUARANTINE_NAME_BYTES = 200


def quarantine_rows(batch: Batch) -> None:
    """Inside the load's transaction: the failed rows (they leave the feed's table) and the
    lines the reader rejected, into ingest.quarantined_rows."""
    if not any(outcome.rows_quarantined for outcome in batch.staged):  # checks.count_rows
        return
    con, spec = batch.con, batch.spec
    execute(
        con,
        f"""
        insert into ingest.quarantined_rows (batch_id, feed, source_file, content_hash,
            partition_key, row_number, reason, raw_record, quarantined_at)
        select ?, ?, rows._source_file, rows._content_hash, files.partition_key,
            rows._row_number, _failed.reason, {record_json(spec)}, now()
        from {spec.table} as rows
        join _failed using (_source_file, _row_number)
        join _batch_files as files using (_source_file)
        where {batch.where}
        union all
        select ?, ?, lines._source_file, files.content_hash, files.partition_key,
            lines._row_number, lines.reason, lines.raw, now()
        from _rejected_lines as lines join _batch_files as files using (_source_file)
        """,
        [batch.batch_id, spec.name, batch.batch_id, spec.name],
    )
    execute(
        con,
        f"""
        delete from {spec.table} as rows using _failed
        where {batch.where} and rows._source_file = _failed._source_file
            and rows._row_number = _failed._row_number
        """,
    )


def hold_corrections(batch: Batch) -> None:
    """Good data is never replaced by worse: a new version of a day already loaded
    replaces it only if none of its rows fails (the checks its first load passed).
    Otherwise the whole file is held in quarantine and the day keeps its previous load,
    until an operator accepts that file (`flightline ingest --accept FILE`)."""
    held = [
        o
        for o in batch.staged
        if o.status == "loaded" and o.is_correction and (o.rows_quarantined or not o.rows_loaded)
    ]
    for outcome in held:
        what = f"the day {outcome.partition_key}" if outcome.partition_key else "the table"
        accept = f"flightline ingest --accept {quarantine_target(batch, outcome)}"
        outcome.status = "quarantined"
        if not outcome.rows_read:
            outcome.reason = (
                f"correction held: it has no records and would empty {what}, which keeps "
                f"its previous load. To load it anyway: {accept}"
            )
            continue
        reasons = execute(
            batch.con,
            """
            select reason, count(*) from (
                select reason from _failed where _source_file = ?
                union all select reason from _rejected_lines where _source_file = ?
            ) group by all order by 2 desc, 1 limit 3
            """,
            [outcome.source, outcome.source],
        ).fetchall()
        outcome.reason = (
            f"correction held: {outcome.rows_quarantined} of its {outcome.rows_read} rows "
            f"fail their checks ({'; '.join(f'{n} x {r[:120]}' for r, n in reasons)}); "
            f"{what} keeps its previous load. To load it anyway, its failing rows "
            f"quarantined: {accept}"
        )
    drop_files(batch, held, quarantined=True)


def quarantine_target(batch: Batch, outcome: FileOutcome) -> Path:
    """Where a file is kept in quarantine/: `<12 hex of its hash>-<its name>`, the name
    cut to fit a file system's 255 bytes with `.reason.txt` after it."""
    name = outcome.path.name.encode("utf-8", "surrogateescape")[:_QUARANTINE_NAME_BYTES]
    shown = name.decode("utf-8", "ignore")
    return batch.quarantine / batch.spec.name / f"{outcome.content_hash[:12]}-{shown}"


def move_to_quarantine(batch: Batch, outcome: FileOutcome) -> None:
    """Move a file out of landing/ with its reason beside it, readable by the owner (and
    group) only. A move that fails does not stop the other files: the file stays in
    landing/, its content logged quarantined (so not read again), and the reason says
    so."""
    target = quarantine_target(batch, outcome)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        if outcome.path.is_symlink() or outcome.path.exists():
            shutil.move(outcome.path, target)  # a link moves as the link, not its target
        note = target.with_name(target.name + ".reason.txt")
        note.write_text(
            encoding="utf-8",
            data=f"feed: {batch.spec.name}\nfile: {outcome.source!a}\n"
            f"batch: {batch.batch_id}\nreason: {outcome.reason}\n",
        )
        for kept in (target, note):
            if kept.exists() and not kept.is_symlink():
                kept.chmod(0o640)
    except OSError as error:
        outcome.reason = f"{outcome.reason} (left in landing/: the move failed: {error})"


def accept(con: duckdb.DuckDBPyConnection, landing: Path, quarantine: Path, kept: Path) -> Path:
    """An operator accepts a file held in quarantine (a correction some of whose rows fail):
    it goes back to landing/ under its own name, and its content (by hash, so only these
    bytes) is recorded in ingest.accepted_files. The next load takes it as any new file:
    its failing rows quarantined, the rest replacing the day. Returns where it landed."""
    kept = Path(kept)
    spec: FeedSpec | None = FEEDS_BY_NAME.get(kept.parent.name)
    if spec is None or kept.parent.parent.resolve() != quarantine.resolve():
        raise ValueError(f"{kept} is not a file in {quarantine}/<feed>/")
    if kept.is_symlink() or not kept.is_file() or "-" not in kept.name:
        raise ValueError(f"{kept} is not a quarantined feed file")
    target = landing / spec.pattern.rsplit("/", 1)[0] / kept.name.split("-", 1)[1]
    if target.exists() or target.is_symlink():
        raise ValueError(f"landing/ already has {target}: move it away first")
    digest = stage(kept, spec).digest
    execute(
        con,
        "insert into ingest.accepted_files (feed, content_hash, accepted_at) values (?, ?, now())",
        [spec.name, digest],
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(kept, target)
    kept.with_name(kept.name + ".reason.txt").unlink(missing_ok=True)
    return target
