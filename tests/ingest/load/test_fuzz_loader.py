"""A fuzzer for the loader (issue 16): Hypothesis lands hostile feed files and names beside
one clean new day, over a small real warehouse, and after every example checks what must
always hold:

- no file is written outside the data directory (payloads aim at a canary directory);
- no table but a targeted feed's changed, and in a targeted feed only the targeted days:
  each either unchanged (the file held or quarantined) or replaced whole by the new file's
  rows when that file had no failing row (good data never replaced by worse);
- rows_read is the test's own count of the file's records (Python's csv module, not DuckDB)
  and equals rows_loaded + rows_quarantined, for every file logged;
- the clean file of the same batch loaded whole.

`make test` runs a bounded number of examples (FLIGHTLINE_FUZZ_EXAMPLES, default 25);
`make fuzz` runs it for FUZZ_MINUTES with fresh seeds (docs/ingest.md, "Threat model").
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.catalog import FEEDS, FEEDS_BY_NAME
from ingest.load.loader import ingest_all
from ingest.provider.export import export_feeds
from ingest.warehouse import connect

EXAMPLES = int(os.environ.get("FLIGHTLINE_FUZZ_EXAMPLES", "25"))
LOADED_DAYS = ["2013-01-01", "2013-01-02", "2013-01-03"]
CONTROL = ("actuals", "2013-01-04")


@pytest.fixture(scope="module")
def base(tmp_path_factory, source):
    """Three days of every feed loaded; the fourth day's actuals kept aside (the control)."""
    root = tmp_path_factory.mktemp("fuzz-base")
    landing = root / "landing"
    export_feeds(landing, until=date(2013, 1, 4), source=source)
    aside: dict[Path, bytes] = {}
    for path in sorted(landing.rglob("2013-01-0[45].*")):
        aside[path.relative_to(landing)] = path.read_bytes()
        path.unlink()
    con = connect(root / "warehouse" / "warehouse.duckdb")
    try:
        ingest_all(con, landing, root / "quarantine")
        con.execute("checkpoint")
    finally:
        con.close()
    for relative, data in aside.items():
        (root / "aside" / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / "aside" / relative).write_bytes(data)
    return root


# What hostile text looks like: SQL, quotes, comments, unicode, control characters.
SQL_BITS = [
    "'",
    '"',
    ";",
    "--",
    "/*",
    "*/",
    "})",
    "');",
    "delete from raw.weather",
    "copy (select 42) to '{canary}'",
    "drop table raw.schedules",
    "attach '{canary}.db' as x",
    "\\",
    "\x00",
    "\u202e",
    "é",
    "\ufeff",
    "${HOME}",
    "*",
    "[",
    "?",
    "\r",
    "\n",
    ",",
]
hostile_text = st.lists(
    st.one_of(st.sampled_from(SQL_BITS), st.text(max_size=6)), min_size=1, max_size=6
).map("".join)


@dataclass
class Hostile:
    feed: str
    name: str  # file name in the feed's folder
    damage: str
    payload: str
    fraction: float
    link: bool


BAD_NAMES = [
    "2013-02-30",
    "2014-05-01",
    "\uff12\uff10\uff11\uff13-01-06",
    "2013-01-06\n",
    "2013-01-0?",
    "x" * 240,
    "2013-01-06.csv.csv",
    "..",
]
DAMAGES = [
    "header",  # a hostile column name added to the header (CSV) or a hostile key (JSON)
    "value",  # a hostile value in a column
    "long_line",  # a line over DuckDB's 2 MB maximum
    "encoding",  # bytes that are not UTF-8
    "garbage_rows",  # a share of the rows replaced by hostile text
    "truncate",  # cut in the middle of a line
    "quotes",  # an unbalanced quote
    "nul",  # NUL bytes
]


@st.composite
def hostile_files(draw) -> list[Hostile]:
    files = []
    for _ in range(draw(st.integers(1, 3))):
        feed = draw(st.sampled_from(["actuals", "schedules", "weather"]))
        kind = draw(st.sampled_from(["new_day", "correction", "bad_name"]))
        if kind == "new_day":
            stem = "2013-01-05"
        elif kind == "correction":
            stem = draw(st.sampled_from(LOADED_DAYS))
        else:
            stem = draw(st.sampled_from(BAD_NAMES))
        ext = ".jsonl" if feed == "weather" else ".csv"
        files.append(
            Hostile(
                feed=feed,
                name=stem + ext,
                damage=draw(st.sampled_from(DAMAGES)),
                payload=draw(hostile_text),
                fraction=draw(st.floats(0.0, 0.6)),
                link=draw(st.booleans()) if kind != "bad_name" else False,
            )
        )
    # One file per name and feed: the last drawn wins.
    return list({(f.feed, f.name): f for f in files}.values())


def damaged(spec_name: str, original: bytes, hostile: Hostile, canary: Path) -> bytes:
    payload = hostile.payload.replace("{canary}", str(canary))
    text = original.decode()
    lines = text.splitlines()
    if spec_name == "weather":
        if hostile.damage == "header":
            import json

            lines = [line[:-1] + f", {json.dumps(payload)}: 1}}" for line in lines]
        elif hostile.damage == "value":
            lines[1] = lines[1].replace('"origin": "', '"origin": "' + payload.replace('"', "'"))
    elif hostile.damage == "header":
        lines[0] = lines[0] + "," + payload
        try:  # as many values as the payload makes columns (else the rows are short)
            extra = len(next(csv.reader(io.StringIO(payload, newline="")), [])) or 1
        except csv.Error:
            extra = 1
        lines[1:] = [line + ",1" * extra for line in lines[1:]]
    elif hostile.damage == "value":
        fields = lines[1].split(",")
        fields[1] = payload
        lines[1] = ",".join(fields)
    body = lines[1:]
    if hostile.damage == "garbage_rows":
        count = int(len(body) * hostile.fraction) + 1
        body[:count] = [payload] * count
    elif hostile.damage == "long_line":
        body.insert(len(body) // 2, payload + "9" * 2_100_000)
    lines = [lines[0], *body]
    data = ("\n".join(lines) + "\n").encode("utf-8", "surrogatepass")
    if hostile.damage == "encoding":
        middle = len(data) // 2
        data = data[:middle] + b"\xff\xfe\xc3(" + data[middle:]
    elif hostile.damage == "truncate":
        data = data[: int(len(data) * (0.3 + hostile.fraction))]
    elif hostile.damage == "quotes":
        middle = data.index(b"\n", len(data) // 2) + 1
        data = data[:middle] + b'"' + data[middle:]
    elif hostile.damage == "nul":
        data = data.replace(b",", b",\x00", 3)
    return data


def records(path: Path, fmt: str) -> int:
    """The test's own count of a file's records: Python's csv module, not DuckDB."""
    csv.field_size_limit(2**31 - 1)
    with path.open("rb") as raw:
        if fmt == "jsonl":  # JSON Lines: lines end at \n; blank ones are no record
            return sum(1 for line in raw.read().split(b"\n") if line.strip(b"\r\n"))
        text = io.TextIOWrapper(raw, encoding="latin-1", newline="")
        return max(sum(1 for row in csv.reader(text) if row) - 1, 0)


def day_digests(con) -> dict[tuple[str, str], str]:
    digests = {}
    for spec in FEEDS:
        part = f't."{spec.partition_column}"::varchar' if spec.is_daily else "'all'"
        for key, digest in con.execute(
            f"select {part}, md5(string_agg(md5(t::varchar), ',' "
            "order by t._source_file, t._row_number)) "
            f"from (select * exclude (_loaded_at, _batch_id) from {spec.table}) as t group by 1"
        ).fetchall():
            digests[(spec.name, key)] = digest
    return digests


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=os.environ.get("FLIGHTLINE_FUZZ_SEED") is None,
)
@given(files=hostile_files())
def test_hostile_files_never_escape_never_block_and_never_lose_a_row(base, files):
    root = base
    with tempfile.TemporaryDirectory(prefix="fuzz-") as scratch:
        scratch = Path(scratch)
        home = scratch / "home"
        canary = scratch / "outside" / "pwned"
        canary.parent.mkdir()
        shutil.copytree(root / "landing", home / "landing")
        shutil.copytree(root / "warehouse", home / "warehouse")
        landing = home / "landing"
        control = Path("actuals") / f"{CONTROL[1]}.csv"
        shutil.copy(root / "aside" / control, landing / control)
        written: dict[tuple[str, str], Path] = {}
        for hostile in files:
            ext = ".jsonl" if hostile.feed == "weather" else ".csv"
            template = root / "landing" / hostile.feed / f"2013-01-02{ext}"
            data = damaged(hostile.feed, template.read_bytes(), hostile, canary)
            target = landing / hostile.feed / hostile.name
            if hostile.name == ".." or "/" in hostile.name:
                continue
            if hostile.link:
                real = scratch / "outside-links" / f"{len(written)}{ext}"
                real.parent.mkdir(exist_ok=True)
                real.write_bytes(data)
                target.unlink(missing_ok=True)
                target.symlink_to(real)
            else:
                target.write_bytes(data)
            written[(hostile.feed, hostile.name)] = target

        con = connect(home / "warehouse" / "warehouse.duckdb")
        try:
            before = day_digests(con)
            results = ingest_all(con, landing, home / "quarantine")
            after = day_digests(con)
            logged = con.execute(
                "select feed, source_file, content_hash, status, rows_read, rows_loaded, "
                "rows_quarantined, partition_key, reason from ingest.file_log "
                "where batch_id = ?",
                [next(iter(results.values())).batch_id],
            ).fetchall()
            loaded_hashes = {
                (feed, key): digest
                for feed, _, digest, status, *_, key, _ in logged
                if status == "loaded"
            }
            hashes_by_day = {
                (feed, day): {h for (h,) in rows}
                for (feed, day), rows in (
                    (
                        (spec.name, day),
                        con.execute(
                            f"select distinct _content_hash from {spec.table} "
                            f'where "{spec.partition_column}"::varchar = ?',
                            [day],
                        ).fetchall(),
                    )
                    for spec in FEEDS
                    if spec.is_daily
                    for day in {*LOADED_DAYS, "2013-01-04", "2013-01-05"}
                )
            }
        finally:
            con.close()

        # Nothing written outside the data directory.
        assert not canary.parent.exists() or not any(canary.parent.iterdir())
        assert not list(scratch.glob("*.db")) and not (scratch / "outside" / "pwned.db").exists()

        # Every file logged adds up, against the test's own count.
        for feed, source_file, digest, status, read, loaded, quarantined, *_ in logged:
            assert read == loaded + quarantined, (source_file, status)
            path = home / "landing" / source_file
            fmt = FEEDS_BY_NAME[feed].format
            kept = list((home / "quarantine" / feed).glob(f"{digest[:12]}-*"))
            kept = [k for k in kept if not k.name.endswith(".reason.txt")]
            if digest != "unread" and status != "duplicate":
                where = path if path.exists() and not path.is_symlink() else None
                where = where or next((k for k in kept if not k.is_symlink()), None)
                if where is not None and hashlib.sha256(where.read_bytes()).hexdigest() == digest:
                    assert read == records(where, fmt), (source_file, status)

        # The clean file of the batch loaded whole.
        (control_row,) = [r for r in logged if r[1] == str(control)]  # as recorded
        assert control_row[3] == "loaded" and control_row[6] == 0
        assert control_row[4] == records(landing / control, "csv")

        # Only targeted days changed, and only to a clean file's rows.
        targeted = {(f.feed, f.name.split(".", 1)[0]) for f in files} | {CONTROL}
        for key in before.keys() | after.keys():
            if key in targeted:
                continue
            assert before.get(key) == after.get(key), key
        for feed, day in targeted:
            if (feed, day) not in before or before.get((feed, day)) == after.get((feed, day)):
                continue
            # Replaced: by exactly one file of this batch that loaded with no failing row.
            digest = loaded_hashes.get((feed, day))
            assert digest is not None and hashes_by_day[(feed, day)] == {digest}, (feed, day)
            row = next(r for r in logged if r[0] == feed and r[2] == digest)
            assert row[6] == 0, (feed, day, row)
