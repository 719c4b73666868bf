"""Which landed files a load reads, judged by their fingerprints (SHA-256 of the bytes, see
ingest/landing.py) against the books: a content already settled for its path is skipped,
the same content under another name is a duplicate, a new version of a loaded day is a
correction; a file that cannot be read or named is rejected, one that changes while it is
hashed, or while DuckDB reads it, is left for the next load."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ingest.catalog import FeedSpec
from ingest.landing import (
    FileChanged,
    FileRejected,
    digest_of,
    discover,
    partition_of,
    source_name,
    stage,
)
from ingest.load.batch import Batch, drop_files
from ingest.load.books import logged
from ingest.load.outcomes import UNREAD, FileOutcome


def pending(
    con: duckdb.DuckDBPyConnection, landing: Path, spec: FeedSpec, partitions: set[str] | None
) -> list[Path]:
    """Landed files whose content has not been logged for that path yet (a file that
    cannot be read is pending: the next load quarantines it with its reason)."""
    seen, _, _ = logged(con, spec)
    found = []
    for path in discover(landing, spec, partitions):
        try:
            digest = digest_of(path)  # the hash alone: no record count needed here
        except OSError:  # a link, or gone: the next load says which
            digest = None
        if (source_name(path, landing), digest) not in seen:
            found.append(path)
    return found


def files_to_load(batch: Batch, landing: Path, partitions: set[str] | None) -> tuple[list, int]:
    """The landed files this load reads (each staged: hashed, counted, its first line
    read), and how many were skipped as already settled. Duplicates, rejected and deferred
    files join the batch's lists."""
    spec = batch.spec
    seen_pairs, rows, accepted = logged(batch.con, spec)
    loaded_hashes = {digest for _, digest, status, _ in rows if status == "loaded"}
    loaded_days = {key for *_, status, key in rows if status == "loaded"}

    found: list[FileOutcome] = []
    skipped = 0
    batch_hashes: set[str] = set()
    for path in discover(landing, spec, partitions):
        outcome = FileOutcome(
            spec.name, path, UNREAD, None, "loaded", source=source_name(path, landing)
        )
        batch.discovered.append(outcome)
        try:
            staged = stage(path, spec)
        except FileChanged as error:
            outcome.status, outcome.reason = "deferred", str(error)
            batch.deferred.append(outcome)
            continue
        except FileRejected as error:
            outcome.status, outcome.reason = "quarantined", str(error)
            batch.rejected.append(outcome)
            continue
        outcome.content_hash, outcome.staged = staged.digest, staged
        if batch.on_staged is not None:
            batch.on_staged(outcome)
        outcome.rows_read = staged.records
        if (outcome.source, staged.digest) in seen_pairs:
            skipped += 1
            continue
        try:
            outcome.partition_key = partition_of(spec, path)
        except FileRejected as error:
            outcome.status, outcome.reason = "quarantined", str(error)
            batch.rejected.append(outcome)
            continue
        if staged.digest in loaded_hashes or staged.digest in batch_hashes:
            outcome.rows_read = 0  # its rows are loaded, under the earlier file
            outcome.status = "duplicate"
            outcome.reason = "same content as a file already loaded; not loaded again"
            batch.duplicates.append(outcome)
            continue
        outcome.is_correction = (
            outcome.partition_key in loaded_days and staged.digest not in accepted
        )
        batch_hashes.add(staged.digest)
        found.append(outcome)
    return found, skipped


def defer_changed(batch: Batch) -> None:
    """Each file hashed again now that DuckDB has read it: one whose bytes are not those
    hashed before (rewritten in place, swapped for another) leaves this load, rows and
    all, unlogged and where it is: the next load reads it (ingest/landing.py)."""
    changed = []
    for outcome in batch.staged:
        try:
            same = digest_of(outcome.path) == outcome.content_hash
        except OSError:  # gone, or a link now
            same = False
        if not same:
            outcome.status = "deferred"
            outcome.reason = "the file changed while it was loaded; the next load reads it"
            changed.append(outcome)
    if changed:
        drop_files(batch, changed, quarantined=False)
        batch.changed.extend(changed)
