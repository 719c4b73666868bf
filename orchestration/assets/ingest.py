"""Ingest assets: one per feed of ingest.catalog, each landing its files into raw.<feed>."""

import time
from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from ingest.catalog import FEEDS, FeedSpec
from ingest.load.loader import Loader
from ingest.load.outcomes import IngestResult
from ingest.quality import CRITICAL
from ingest.spark_raw import publish_raw_parquet
from orchestration.checks import Verdict, per_partition, single_result, verdict
from orchestration.partitions import WAREHOUSE_POOL, daily_partitions, single_run
from orchestration.resources import WarehouseResource


def raw_asset_key(feed: FeedSpec) -> AssetKey:
    return AssetKey(["raw", feed.name])


def _metadata(result: IngestResult, window: str | None) -> dict:
    quarantined = result.files_quarantined
    metadata = {
        "files_loaded": sum(o.status == "loaded" for o in result.outcomes),
        "files_skipped_unchanged": result.skipped,
        "files_quarantined": len(quarantined),
        # Changed while they were read (still being written?): read again by the next load.
        "files_deferred": sum(o.status == "deferred" for o in result.outcomes),
        "rows_read": result.rows_read,
        "rows_loaded": result.rows_loaded,
        "rows_quarantined": result.rows_quarantined,
        "seconds": round(result.seconds, 2),
        "batch_id": result.batch_id,
    }
    if window:
        metadata["partition_window"] = window
    if result.partitions:
        metadata["partitions_loaded"] = len(result.partitions)
    if quarantined:
        metadata["quarantined_files"] = MetadataValue.md(
            "\n".join(f"- `{ascii(o.path.name)[1:-1]}`: {o.reason}" for o in quarantined)
        )
    held = [o for o in quarantined if (o.reason or "").startswith("correction held")]
    if held:
        metadata["corrections_held"] = len(held)
    return metadata


EXPECTATIONS = "expectations"


def _expectation_results(
    feed: FeedSpec, result: IngestResult, partitions: list[str]
) -> Iterator[Verdict]:
    """One verdict per partition of the run on the feed's expectation suite."""
    validation = result.validation
    quarantined = {o.partition_key or "all": o for o in result.files_quarantined}
    for partition in partitions:
        if validation is None or partition not in validation.partitions:
            yield Verdict(
                partition,
                True,
                AssetCheckSeverity.WARN,
                "no new file for this day in this run: validated when it was loaded",
                {},
            )
            continue
        severity = validation.severity_of(partition)
        rejected = quarantined.get(partition)
        if rejected is not None:
            action = f"QUARANTINED {rejected.path.name}, the day keeps its previous load: "
        elif severity == CRITICAL:
            bad = sum(
                f.unexpected for f in validation.failures_of(partition) if f.severity == CRITICAL
            )
            action = f"{bad} row(s) quarantined, the rest loaded: "
        else:
            action = ""
        yield verdict(validation, partition, action)


def build_ingest_asset(feed: FeedSpec) -> AssetsDefinition:
    key = raw_asset_key(feed)
    check_name = "nothing_quarantined"
    partitions_def = daily_partitions if feed.is_daily else None

    @multi_asset(
        name=f"ingest_{feed.name}",
        specs=[
            AssetSpec(
                key,
                description=(
                    f"{feed.description} Loaded exactly once from `landing/{feed.pattern}` "
                    f"({feed.format}); natural key ({', '.join(feed.natural_key)}). "
                    "Unreadable files go to quarantine/, bad rows to ingest.quarantined_rows."
                ),
                group_name="ingest",
                kinds={"duckdb", feed.format},
                metadata={"table": feed.table},
            )
        ],
        check_specs=[
            AssetCheckSpec(
                check_name,
                asset=key,
                description="Warns when this load quarantined files or rows (see metadata).",
            ),
            AssetCheckSpec(
                EXPECTATIONS,
                asset=key,
                partitions_def=partitions_def,
                description=(
                    f"The Great Expectations suite of the {feed.name} feed "
                    "(ingest/expectations.py), per day: fails (error) when a critical "
                    "expectation failed, in which case the loader quarantined the failing "
                    "rows, or the whole day's file, before they reached raw; warns on "
                    "warning expectations. Not blocking: what reached raw passed."
                ),
            ),
        ],
        partitions_def=partitions_def,
        backfill_policy=single_run if feed.is_daily else None,
        pool=WAREHOUSE_POOL,
    )
    def _ingest(context: AssetExecutionContext, warehouse: WarehouseResource):
        window = None
        partitions = None
        if feed.is_daily:
            keys = context.partition_keys
            partitions = set(keys)
            window = f"{keys[0]} .. {keys[-1]}"
        settings = warehouse.settings
        # Files modified after this are news to the next load (the planner's question).
        started_at = time.time()
        # What it reads, for `flightline debug`: the landed files by their content's hash,
        # each kept once by content (a correction replaces a file under its name), its books
        # and raw days by copy (DuckDB's on either engine).
        arguments = {"feed": feed.name, "partitions": sorted(partitions or [])}
        step = f"ingest_{feed.name}"
        with (
            warehouse.connect() as con,
            warehouse.recording(context, step, arguments, duckdb_only=True) as rec,
        ):
            loader = Loader(
                con,
                settings.landing,
                settings.quarantine,
                batch_id=context.run_id,
                quality=settings.quality,
                on_staged=lambda o: rec.keep_landed(o.path, o.content_hash),
            )
            for relation, where, params in Loader.reads(feed, partitions):
                rec.copy_rows(con, relation, where, params)
            try:
                result = loader.load(feed, partitions)
            finally:  # a file not read (refused, changed while hashed): its status already
                landed = rec.references["landed_files"] = [
                    {
                        "source": o.source,
                        "content_hash": None if o.staged is None else o.content_hash,
                        "status": o.status if o.staged is None else None,
                    }
                    for o in loader.discovered
                ]
            statuses = {o.source: o.status for o in result.outcomes}
            for file in landed:
                file["status"] = file["status"] or statuses.get(file["source"], "unchanged")
            if settings.engine == "spark":  # Spark reads what this load committed
                publish_raw_parquet(con, settings.spark / "raw", [feed])
        for outcome in result.files_quarantined:
            context.log.warning(f"quarantined {outcome.path.name}: {outcome.reason}")
        context.log.info(
            f"{feed.name}: {result.rows_loaded} rows loaded, {result.rows_quarantined} "
            f"quarantined, {result.skipped} files unchanged"
        )
        metadata = {**_metadata(result, window), "started_at": started_at, **rec.metadata()}
        yield MaterializeResult(asset_key=key, metadata=metadata)
        held = [o for o in result.files_quarantined if o.reason.startswith("correction held")]
        yield AssetCheckResult(
            asset_key=key,
            check_name=check_name,
            passed=result.rows_quarantined == 0 and not result.files_quarantined,
            severity=AssetCheckSeverity.WARN,
            description=(
                f"{len(held)} correction(s) held, their days keep the previous load: "
                + "; ".join(o.reason for o in held)
                if held
                else None
            ),
            metadata={
                "rows_quarantined": result.rows_quarantined,
                "files_quarantined": len(result.files_quarantined),
                "where": "ingest.quarantined_rows, quarantine/",
            },
        )
        results = _expectation_results(
            feed, result, context.partition_keys if feed.is_daily else ["all"]
        )
        if feed.is_daily:
            yield from per_partition(key, EXPECTATIONS, results, blocking=False)
        else:
            yield single_result(next(results), asset_key=key, check_name=EXPECTATIONS)

    return _ingest


ingest_assets = [build_ingest_asset(feed) for feed in FEEDS]
