"""Landed files: which files a feed has, what their names say, and what an independent reader
finds in each (its hash, its header, its records).

A landing directory is written by someone else, so nothing about a file is trusted:
- a daily file's name is `YYYY-MM-DD.<ext>` in ASCII digits, a real date inside the
  pipeline's days (ingest/catalog.py), or the file is quarantined by its name;
- a symbolic link, or anything that is not a regular file inside its feed's folder, is
  refused (quarantined with the reason), never followed;
- `stage` reads a file once through a descriptor opened without following links, hashing it
  and counting its records. DuckDB then reads the file, and the loader hashes it again after
  that read: a file whose bytes changed in between (rewritten in place, swapped) is not
  loaded this time (FileChanged) and is read again by the next load. (Copying each file to
  a private name first was tried: creating 730 files cost ~0.7 ms each here, half the
  load.)
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
from typing import BinaryIO

from ingest.catalog import FIRST_DAY, LAST_DAY, FeedSpec

_DAY_NAME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)


class FileRejected(Exception):
    """A whole file cannot be loaded; the message says why."""


class FileChanged(FileRejected):
    """The file's bytes changed while it was read: still being written, or rewritten. Not
    quarantined: the next load reads it again."""


class LandingRefused(RuntimeError):
    """A feed's landing folder itself cannot be read safely (a link to elsewhere)."""


def source_name(path: Path, landing: Path) -> str:
    """A landed file as the warehouse records it: its path inside landing/
    (`schedules/2013-01-01.csv`), so a data directory moved or copied elsewhere keeps its
    files' history (with absolute paths every file was new again, and every day rebuilt).
    A name that is not UTF-8 (Linux allows any bytes) keeps its odd bytes as `\xff` escapes
    instead of failing every statement that binds it."""
    return os.fsencode(path.relative_to(landing)).decode("utf-8", "backslashreplace")


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
    shown = ascii(name)
    if not name.endswith(suffix):
        raise FileRejected(f"file name must be YYYY-MM-DD{suffix} in ASCII digits, got {shown}")
    stem = name[: -len(suffix)]
    key = partition_key(stem)
    if key is not None:
        return key
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
    # Hidden files are uploads in progress by convention (rsync's `.name.XXXXXX`): not yet.
    folder = spec.pattern.rpartition("/")[0]
    feed_dir = landing / folder
    if feed_dir.is_symlink() or (
        feed_dir.exists() and feed_dir.resolve().parent != landing.resolve()
    ):
        raise LandingRefused(
            f"{feed_dir} is a link to {feed_dir.resolve()}: feed files are read, and "
            "quarantined files moved, only inside landing/; make it a folder"
        )
    listed = feed_dir.glob("*") if spec.is_daily else landing.glob(spec.pattern)
    for path in listed:
        if path.name.startswith("."):
            continue
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
            if not p.name.endswith(suffix)
            or (key := partition_key(p.name.removesuffix(suffix))) is None
            or key in partitions
        ]
    return files


@dataclass(frozen=True)
class Staged:
    """One landed file as it was read: its bytes' hash and what an independent reader counts
    in it."""

    digest: str
    """SHA-256 of the content."""
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


def _lone_return(seam: bytes, block: bytes) -> bool:
    """Whether a carriage return not followed by a line feed is in the block or its seam."""
    return block.count(b"\r") != block.count(b"\r\n") or seam.count(b"\r") != seam.count(b"\r\n")


def digest_of(path: Path) -> str:
    """SHA-256 of a landed file's bytes now (links not followed): the check after a read."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    try:
        digest = hashlib.sha256()
        while block := os.read(fd, _BLOCK):
            digest.update(block)
        return digest.hexdigest()
    finally:
        os.close(fd)


def stage(path: Path, spec: FeedSpec) -> Staged:
    """Read a landed file once: hash it and count its records.

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
    try:
        return _stage_open(fd, spec)
    except OSError as error:  # a read error
        raise FileRejected(f"could not be read: {error}") from error


def _stage_open(fd: int, spec: FeedSpec) -> Staged:
    """Read an opened landed file once: hash it and note what makes a quick record count
    wrong. Raw os calls: for a year's 730 small files, Python's file objects cost as much as
    the bytes (ingest benchmark, BENCHMARKS.md)."""
    try:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise FileRejected("not a regular file")
        digest = hashlib.sha256()
        lines = 0
        # What makes the file's line count wrong as its record count: a blank line, a
        # carriage return alone (it ends a line too), a quote in a CSV file: count slowly.
        odd = False
        quoted = spec.format == "csv"  # a quote changes how a CSV file splits into records
        edge = b"\n"  # the end of the bytes before, with a virtual line end before the file
        first = b""
        while block := os.read(fd, _BLOCK):
            if not first:
                first = block[: block.find(b"\n") + 1] or block
            digest.update(block)
            lines += block.count(b"\n")
            if not odd:  # bytes' own searches: a regex alternation was 10x slower here
                seam = edge + block[:2]  # where this block meets the one before
                returns = b"\r" in block or b"\r" in seam
                odd = (
                    (quoted and b'"' in block)
                    or b"\n\n" in block
                    or b"\n\n" in seam
                    or (returns and (b"\n\r\n" in seam + block or _lone_return(seam, block)))
                )
            edge = block[-2:]
        after = os.fstat(fd)
        if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns):
            raise FileChanged("the file changed while it was read (still being written?)")
        ends_open = not edge.endswith(b"\n")
        if spec.format == "parquet" or odd or (ends_open and edge.strip() == b""):
            # The slow counts read this same open file, never the path again (which may name
            # something else by now).
            with os.fdopen(os.dup(fd), "rb") as src:
                src.seek(0)
                if spec.format == "parquet":
                    records = _parquet_rows(src)
                else:
                    records = _count_records(src, spec)
        else:
            records = lines + ends_open - (spec.format == "csv")
    finally:
        os.close(fd)
    return Staged(digest.hexdigest(), first, max(records, 0))


# Python's csv module refuses a field over 128 KiB by default; a record is counted whatever
# its size (DuckDB rejects a line over 2 MB, and that rejected line is still a record).
csv.field_size_limit(2**31 - 1)


def _count_records(raw: BinaryIO, spec: FeedSpec) -> int:
    """Records of a CSV or JSON Lines file the slow way (a file with quotes in a CSV, or
    blank lines): Python's csv module, which reads quoting as DuckDB's reader is told to
    (`"` quotes, `""` inside a quoted value). Latin-1 maps every byte to one character, so
    a file that is not UTF-8 is still split into the same records."""
    if spec.format == "jsonl":  # lines end at \n only: a \r inside is a bad record
        return _nonblank_lines(raw)
    text = io.TextIOWrapper(raw, encoding="latin-1", newline="")
    try:
        rows = sum(1 for row in csv.reader(text) if row)
    except csv.Error as error:
        raise FileRejected(f"not readable as CSV: {error}") from error
    finally:
        text.detach()  # the caller's file stays open (and closes once)
    return max(rows - 1, 0)


def _nonblank_lines(raw: BinaryIO) -> int:
    """Lines ending at \n with something besides \r in them, read a block at a time (a line
    of gigabytes is never held whole)."""
    records, content = 0, False
    while block := raw.read(_BLOCK):
        *ended, rest = block.split(b"\n")
        for line in ended:
            records += content or bool(line.strip(b"\r"))
            content = False
        content = content or bool(rest.strip(b"\r"))
    return records + content


def _parquet_rows(source: BinaryIO) -> int:
    import pyarrow.parquet as pq

    try:
        return pq.ParquetFile(source).metadata.num_rows
    except (OSError, ValueError) as error:  # pyarrow's ArrowInvalid is a ValueError
        raise FileRejected(f"not a readable Parquet file: {error}") from error
