"""A load's rows validated against their feed's expectation suite (ingest/expectations.py),
in DuckDB and inside the load's transaction: a row failing a critical expectation is marked
with it as its reason, and a day failing one as a whole (judged against the usual day) has
its file quarantined and keeps its previous load."""

from __future__ import annotations

import statistics
from collections import defaultdict

from ingest.load.batch import Batch, mark
from ingest.quality import CRITICAL, Validation
from ingest.quality_sql import row_checks, validate_sql
from ingest.warehouse import execute

VIEW = "_to_validate"
"""The temporary view of the batch's rows, with their partition, that the suite runs on."""


def validate(batch: Batch) -> Validation:
    """Run the feed's suite on the rows about to load; quarantine what fails critically.
    Files whose day is rejected are marked quarantined and join `batch.rejected`.

    In DuckDB (quality_sql.validate_sql): the rows never pass through pandas, so a load's
    memory does not grow with its size and GX costs the same for 1k rows or 10M."""
    # Imported here: the suites import Great Expectations (seconds), which a load without a
    # quality directory never needs.
    from ingest.expectations import RAW_SUITES

    con, spec, staged = batch.con, batch.spec, batch.staged
    suite = RAW_SUITES[spec.name]
    if execute(con, "select count(*) from _failed").fetchone()[0]:
        execute(
            con,
            f"create or replace temp view {VIEW} as select *, "
            f"coalesce(_file_partition, 'all') as _partition from {batch.rows()}",
        )
    else:
        # Nothing failed the row checks, so every row of a daily file has the file's day in
        # its partition column: the batch's rows as they are, without joining the file list
        # and anti-joining _failed on the file name (10M actuals: a scan 4.1 s -> 1.3 s).
        partition = f'"{spec.partition_column}"::varchar' if spec.is_daily else "'all'"
        execute(
            con,
            f"create or replace temp view {VIEW} as select *, "
            f"{partition} as _partition from {spec.table} where {batch.where}",
        )
    partitions = sorted({o.partition_key or "all" for o in staged})
    validation = validate_sql(
        batch.quality,
        suite,
        con,
        VIEW,
        "_partition",
        partitions,
        order_by="_source_file, _row_number",
        usual_rows=usual_rows(batch, partitions),
    )
    critical = [c for c in row_checks(suite, VIEW) if c.severity == CRITICAL]
    failed = {f.expectation for f in validation.failures if f.severity == CRITICAL}
    critical = [c for c in critical if c.described in failed]
    if critical:
        reason = " ".join(
            f"when {c.fails} then '{c.reason.replace(chr(39), chr(39) * 2)}'" for c in critical
        )
        fails = " or ".join(f"({c.fails})" for c in critical)
        mark(
            batch,
            f"select _source_file, _row_number, case {reason} end as reason "
            f"from {VIEW} where {fails}",
        )
    for partition in validation.rejected_partitions():
        reason = f"day failed its expectations: {validation.summary(partition)}"
        mark(
            batch,
            f"select _source_file, _row_number, ? as reason from {VIEW} where _partition = ?",
            [reason, partition],
        )
        for outcome in staged:
            if (outcome.partition_key or "all") == partition:
                outcome.status, outcome.reason = "quarantined", reason
                batch.rejected.append(outcome)
    return validation


USUAL_DAYS = 28
"""The loaded days before a batch's that its usual day is the median of (with its own)."""


def usual_rows(batch: Batch, partitions: list[str]) -> float | None:
    """A day's usual row count: the median over the batch's days and the USUAL_DAYS latest
    loaded days before them. Scale-free, so a synthetic 30M-flight year is judged by
    the same suite as 2013; a batch of one day with no history judges itself (1.0).

    The batch's days are counted from the row checks' per-file rows less the failed ones,
    not by scanning the batch again (2 s for a 10M-row year)."""
    spec = batch.spec
    if not spec.is_daily:
        return None
    con = batch.con
    failed = dict(
        execute(con, "select _source_file, count(*) from _failed group by all").fetchall()
    )
    partition_of = {outcome.source: outcome.partition_key for outcome in batch.staged}
    days: dict[str, int] = defaultdict(int)
    for path, (rows, *_) in batch.file_rows.items():
        days[partition_of[path] or "all"] += rows - failed.get(path, 0)
    part = f'"{spec.partition_column}"'
    loaded = f"(select * from {spec.table} where not ({batch.where}))"
    history = [
        n
        for (n,) in execute(
            con,
            f"""
            select count(*) from {loaded}
            where {part} >= (select max({part}) from {loaded}) - interval {USUAL_DAYS} day
                and {part}::varchar not in (select unnest(?::varchar[]))
            group by {part}
            """,
            [partitions],
        ).fetchall()
    ]
    counts = [n for n in days.values() if n] + history
    return statistics.median(counts) if counts else None
