"""Landed files: which files a feed has, what their names say, and a private copy of the bytes
of each that the loader reads.

A landing directory is written by someone else, so nothing about a file is trusted:
- a daily file's name is `YYYY-MM-DD.<ext>` in ASCII digits, a real date inside the
  pipeline's days (ingest/catalog.py), or the file is quarantined by its name;
- a symbolic link, or anything that is not a regular file inside its feed's folder, is
  refused (quarantined with the reason), never followed;
- the loader never reads a landed file twice: `stage` reads it once, hashing it, counting its
  records and copying it under a name flightline chooses; DuckDB reads the copy. A file
  rewritten while it is loaded is loaded as the bytes that were hashed, or, if it changed
  during that one read, refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import re
import stat
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from ingest.catalog import FIRST_DAY, LAST_DAY, FeedSpec

_DAY_NAME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class FileRejected(Exception):
    """A whole file cannot be loaded; the message says why."""


def partition_key(stem: str) -> str | None:
    """The day a daily file's name (without its extension) stands for, or None when it is
    not one: ASCII digits only (`\\d` would take other scripts' digits), the whole name
    (`$` would take a trailing newline), a calendar date, inside the pipeline's days."""
    if not _DAY_NAME.fullmatch(stem):
        return None
    try:
        day = date.fromisoformat(stem)
    except ValueError:
        return None
    return stem if FIRST_DAY <= day <= LAST_DAY else None


def partition_of(spec: FeedSpec, path: Path) -> str | None:
    """A file's partition (None for a reference feed); FileRejected says what is wrong with a
    daily file's name."""
    if not spec.is_daily:
        return None
    suffix = spec.pattern.rsplit("*", 1)[-1]
    name = path.name
    stem = name[: -len(suffix)] if name.endswith(suffix) else name
    key = partition_key(stem)
    if key is not None:
        return key
    shown = ascii(name)
    if not _DAY_NAME.fullmatch(stem):
        raise FileRejected(f"file name must be YYYY-MM-DD{suffix} in ASCII digits, got {shown}")
    try:
        date.fromisoformat(stem)
    except ValueError:
        raise FileRejected(f"file name {shown} is not a calendar date") from None
    raise FileRejected(
        f"file name {shown} is a day outside the pipeline's days ({FIRST_DAY} .. {LAST_DAY})"
    )


def discover(landing: Path, spec: FeedSpec, partitions: set[str] | None = None) -> list[Path]:
    """Landed files of a feed (links and other non-regular entries included: the loader
    refuses them with a reason), optionally only those of some partitions. A file not named
    by one of the pipeline's days belongs to no partition: every load takes it, so that it
    is quarantined with its reason instead of waiting in landing/ unseen."""
    found = []
    # A daily feed owns its folder: every entry in it is a file of the feed, its name checked
    # by partition_of (a name the pattern misses, such as one ending in a newline, would
    # otherwise wait in landing/ unseen). Reference feeds share theirs: their exact names.
    folder = spec.pattern.rpartition("/")[0]
    listed = (landing / folder).glob("*") if spec.is_daily else landing.glob(spec.pattern)
    for path in listed:
        try:
            mode = path.lstat().st_mode
        except OSError:
            continue  # gone since it was listed
        if stat.S_ISDIR(mode):
            continue
        found.append(path)
    files = sorted(found)
    if partitions is not None and spec.is_daily:
        suffix = spec.pattern.rsplit("*", 1)[-1]
        files = [
            p
            for p in files
            if (key := partition_key(p.name.removesuffix(suffix))) is None or key in partitions
        ]
    return files


@dataclass(frozen=True)
class Staged:
    """One landed file as it was read: its bytes' hash, the copy DuckDB reads, and what an
    independent reader counts in it."""

    digest: str
    """SHA-256 of the content (the copy's content: the bytes that load)."""
    copy: Path | None
    """The private copy the loader reads (None: hashed only)."""
    first_line: bytes
    """With its newline; empty only for an empty file. A line longer than a block is cut
    (a CSV header that long is rejected for the columns it then lacks)."""
    records: int
    """Records per the format, counted here without DuckDB: a CSV file's rows after its
    header (quoted newlines inside a value counted as the record they belong to), a JSON
    Lines file's lines, blank lines not counted; a Parquet file's rows per its footer. The
    loader's rows_read, checked against what DuckDB returned (a record DuckDB skipped
    without a reject makes the file's counts disagree: quarantined whole, never dropped)."""


_BLOCK = 1 << 20


def stage(path: Path, spec: FeedSpec, copy: Path | None = None) -> Staged:
    """Read a landed file once: hash it, count its records, and write its bytes to `copy`.

    Opened with O_NOFOLLOW: a symbolic link is refused, not followed (also one swapped in
    after the file was listed). A file whose size or modification time changed during the
    read is refused: its bytes are no one version of it."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as error:
        if path.is_symlink():
            raise FileRejected(
                "a symbolic link: landed files must be regular files, links are not followed"
            ) from error
        raise FileRejected(f"cannot be opened: {error.strerror}") from error
    with os.fdopen(fd, "rb") as handle:
        before = os.fstat(handle.fileno())
        if not stat.S_ISREG(before.st_mode):
            raise FileRejected("not a regular file")
        digest = hashlib.sha256()
        lines = quotes = returns = line_ends = 0
        blank = False
        last = b"\n"  # a virtual line end before the file, so a blank first line counts
        first = b""
        out = copy.open("wb") if copy is not None else None
        try:
            while block := handle.read(_BLOCK):
                if not first:
                    first = block[: block.find(b"\n") + 1] or block
                digest.update(block)
                lines += block.count(b"\n")
                quotes += block.count(b'"')
                returns += block.count(b"\r")
                line_ends += block.count(b"\r\n")
                joined = last[-2:] + block
                blank = blank or b"\n\n" in joined or b"\n\r\n" in joined
                last = block
                if out is not None:
                    out.write(block)
        finally:
            if out is not None:
                out.close()
        after = os.fstat(handle.fileno())
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
        raise FileRejected("the file changed while it was read; it is read again when it is")
    ends_open = not last.endswith(b"\n")
    if spec.format == "parquet":
        records = _parquet_rows(copy or path)
    elif (
        blank
        or (quotes and spec.format == "csv")
        or returns != line_ends  # a carriage return alone ends a line too
        or (ends_open and last.strip() == b"")
    ):
        records = _count_records(copy or path, spec)
    else:
        records = lines + ends_open - (spec.format == "csv")
    return Staged(digest.hexdigest(), copy, first, max(records, 0))


# Python's csv module refuses a field over 128 KiB by default; a record is counted whatever
# its size (DuckDB rejects a line over 2 MB, and that rejected line is still a record).
csv.field_size_limit(2**31 - 1)


def _count_records(path: Path, spec: FeedSpec) -> int:
    """Records of a CSV or JSON Lines file the slow way (a file with quotes in a CSV, or
    blank lines): Python's csv module, which reads quoting as DuckDB's reader is told to
    (`"` quotes, `""` inside a quoted value). Latin-1 maps every byte to one character, so
    a file that is not UTF-8 is still split into the same records."""
    with path.open("rb") as raw:
        if spec.format == "jsonl":  # lines end at \n only: a \r inside is a bad record
            return sum(1 for line in raw if line.strip(b"\r\n"))
        text = io.TextIOWrapper(raw, encoding="latin-1", newline="")
        try:
            rows = sum(1 for row in csv.reader(text) if row)
        except csv.Error as error:
            raise FileRejected(f"not readable as CSV: {error}") from error
    return max(rows - 1, 0)


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(path).metadata.num_rows
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise FileRejected(f"not a readable Parquet file: {error}") from error
