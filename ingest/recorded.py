"""Recorded inputs: what a run's step read, kept so that `flightline debug` can rebuild it in
a scratch warehouse and run the step's own function on it, after the warehouse has moved on.

A step's recording is a folder, `<data>/recorded/<run_id>/<step>/`: `inputs.json` (the
step, its arguments, its references, the relations copied, how it ended) and one Parquet
file (zstd) per relation copied. What cannot change is recorded by reference (a model by its
registered version: its artifacts are never rewritten); what can is copied (the feature rows
a scoring day read). Recordings older than the retention (Settings.recorded_days) are
removed when a new one is made.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow.parquet as pq

from ingest.settings import Settings

INPUTS_FILE = "inputs.json"
SHARED_FILES = "files"
"""The recordings' folder of files kept once by content for every step that read them."""


class NotRecorded(LookupError):
    """No recording answers the request; the message says what there is."""


@dataclass
class Recording:
    directory: Path
    run_id: str
    step: str
    arguments: dict[str, Any]
    references: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, str] = field(default_factory=dict)
    """relation -> its Parquet file in `directory`."""
    files: dict[str, str] = field(default_factory=dict)
    """file name -> its gzipped copy, relative to the recordings' folder (keep_file)."""
    outcome: dict[str, str] = field(default_factory=dict)
    recorded_at: str = ""
    seconds: float = 0.0
    """What recording cost the step: the copies and inputs.json (benchmarks/ sums it)."""
    copies: bool = True
    """False where the relations are not in a DuckDB warehouse (the Spark engine): copy_rows
    then names the relation in `not_copied` instead."""
    not_copied: list[str] = field(default_factory=list)

    def copy_rows(
        self, con: duckdb.DuckDBPyConnection, relation: str, where: str, params: list
    ) -> int:
        """The rows of `relation` (one of ours, schema.table) matching `where` (SQL of ours,
        values as `params`), copied as they are, column types included."""
        if not self.copies:
            self.not_copied.append(relation)
            return 0
        started = time.perf_counter()
        # con.sql, not con.execute: DuckDB 2.0 copies a DB-API result once more for Arrow. On
        # a cursor of its own: DuckDB 2.0 refuses a connection's next query while a result
        # of the caller's is unread (fetchone), and the copy must not depend on that.
        cursor = con.cursor()
        try:
            query = cursor.sql(f"select * from {relation} where {where}", params=params)
            rows = query.to_arrow_table()
        finally:
            cursor.close()
        name = f"{relation}.parquet"
        pq.write_table(rows, self.directory / name, compression="zstd")
        self.tables[relation] = name
        self.seconds += time.perf_counter() - started
        return rows.num_rows

    def _kept(self, name: str, write) -> bool:
        """The shared `files/` copy `name`, touched when it is there (in use: kept for the
        retention from now, prune), else made by `write(partial)` and renamed in; `write`
        returns False to keep nothing. Whether the copy is there."""
        kept = self.directory.parent.parent / SHARED_FILES / name
        try:
            os.utime(kept)
            return True
        except FileNotFoundError:
            pass
        kept.parent.mkdir(parents=True, exist_ok=True)
        partial = kept.with_name(f".{name}.{os.getpid()}")
        if not write(partial):
            partial.unlink(missing_ok=True)
            return False
        partial.replace(kept)
        return True

    def keep_file(self, path: Path) -> None:
        """A file that will be rewritten but is the same for many steps (dbt's manifest: one
        per code version), kept once by its content, gzipped, in the recordings' shared
        `files/` folder; `files` maps its name to that copy, relative to the recordings."""
        started = time.perf_counter()
        content = path.read_bytes()
        name = f"{hashlib.sha256(content).hexdigest()[:16]}-{path.name}.gz"
        self._kept(name, lambda partial: partial.write_bytes(gzip.compress(content, 6)) > 0)
        self.files[path.name] = f"{SHARED_FILES}/{name}"
        self.seconds += time.perf_counter() - started

    def keep_landed(self, path: Path, digest: str) -> bool:
        """A landed file the step read, kept once by its content (`digest`, sha256) in the
        recordings' `files/`, uncompressed (a cold year's 41 MB in ~0.3 s, hash included,
        where gzip took ~3 s): a later correction lands under the same name and replaces it
        in landing/. False when the file no longer has that content."""
        from ingest.landing import digest_of

        def copy(partial: Path) -> bool:
            if path.is_symlink():  # the loader refuses links; one swapped in is not followed
                return False
            shutil.copyfile(path, partial)
            return digest_of(partial) == digest  # else rewritten since it was hashed

        started = time.perf_counter()
        try:
            return self._kept(f"{digest}.landed", copy)
        except OSError:
            return False
        finally:
            self.seconds += time.perf_counter() - started

    @property
    def bytes(self) -> int:
        return sum(path.stat().st_size for path in self.directory.iterdir())

    def metadata(self) -> dict[str, Any]:
        """What a step reports of its recording (read after the step's block has ended)."""
        reported: dict[str, Any] = {
            "recorded_inputs": str(self.directory),
            "recorded_inputs_mb": round(self.bytes / 1e6, 3),
        }
        if self.not_copied:
            reported["recorded_inputs_not_copied"] = ", ".join(self.not_copied)
        return reported

    def write(self) -> None:
        started = time.perf_counter()
        fields = {
            "run_id": self.run_id,
            "step": self.step,
            "recorded_at": self.recorded_at,
            "arguments": self.arguments,
            "references": self.references,
            "tables": self.tables,
            "files": self.files,
            "outcome": self.outcome,
            "not_copied": self.not_copied,
        }
        self.seconds += time.perf_counter() - started
        fields["seconds"] = round(self.seconds, 4)
        (self.directory / INPUTS_FILE).write_text(json.dumps(fields, indent=1, default=str))


@contextmanager
def record_step(
    settings: Settings,
    run_id: str,
    step: str,
    arguments: dict[str, Any],
    copies: bool | None = None,
) -> Iterator[Recording]:
    """Record the step run inside the block; its outcome (and error) are written as it ends,
    then recordings past the retention are removed. A retried step records afresh. On the
    Spark engine the relations a step reads are Spark's tables: named, not copied (unless
    `copies`: a step that reads DuckDB's on every engine)."""
    directory = settings.recorded / run_id / step
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    recording = Recording(
        directory,
        run_id,
        step,
        arguments,
        recorded_at=datetime.now(UTC).isoformat(),
        copies=settings.engine == "duckdb" if copies is None else copies,
    )
    try:
        yield recording
    except BaseException as error:
        recording.outcome = {"status": "failed", "error": f"{type(error).__name__}: {error}"}
        raise
    else:
        recording.outcome = {"status": "succeeded"}
    finally:
        recording.write()
        prune(settings.recorded, settings.recorded_days)


def prune(root: Path, days: int) -> list[Path]:
    """Remove the runs' recordings last written more than `days` days ago."""
    horizon = time.time() - days * 86_400
    removed = []
    for run in root.iterdir() if root.exists() else []:
        if run.name == SHARED_FILES:
            for kept in run.iterdir():  # each file's time is its last use (keep_file)
                try:  # another process may be writing or removing it
                    old = kept.stat().st_mtime < horizon
                except FileNotFoundError:
                    continue
                if old and not kept.name.startswith("."):
                    kept.unlink(missing_ok=True)
                    removed.append(kept)
        elif run.is_dir() and run.stat().st_mtime < horizon:
            shutil.rmtree(run, ignore_errors=True)
            removed.append(run)
    return removed


def load(settings: Settings, run_id: str, step: str | None = None) -> Recording:
    """A run's recorded step: `step`, or the one that failed."""
    run = settings.recorded / run_id
    if not run.is_dir():
        raise NotRecorded(
            f"no recorded inputs of run {run_id} under {settings.recorded} (recordings are kept "
            f"{settings.recorded_days} days, $FLIGHTLINE_RECORDED_DAYS)"
        )
    steps = {path.parent.name: path for path in sorted(run.glob(f"*/{INPUTS_FILE}"))}
    if step is None:
        failed = [
            name
            for name, path in steps.items()
            if json.loads(path.read_text())["outcome"].get("status") == "failed"
        ]
        if len(failed) != 1:
            raise NotRecorded(
                f"run {run_id} has {len(failed)} failed recorded step(s) of {sorted(steps)}: "
                "name the step to debug"
            )
        step = failed[0]
    if step not in steps:
        raise NotRecorded(f"run {run_id} recorded {sorted(steps) or 'no step'}, not {step!r}")
    fields = json.loads(steps[step].read_text())
    return Recording(
        steps[step].parent,
        fields["run_id"],
        fields["step"],
        fields["arguments"],
        fields["references"],
        fields["tables"],
        fields.get("files", {}),
        fields["outcome"],
        fields["recorded_at"],
        fields.get("seconds", 0.0),
        not_copied=fields.get("not_copied", []),
    )
