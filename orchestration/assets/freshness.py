"""Is each feed landing when it should? dbt's own `dbt source freshness` answers (the
thresholds are declared on the sources in dbt_project/models/staging/_ops__sources.yml and
measured on the loader's `_loaded_at`, the wall-clock time a row was loaded), and its
verdicts are checks on the raw assets, run by a schedule.

Wall-clock, deliberately: the feeds are 2013's, but whether a feed arrived is a question
about when its files were loaded. A data directory left alone for two days warns, after a
week it fails; a replay that lands a day each evening stays green.
"""

import json

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    MetadataValue,
    ScheduleDefinition,
    define_asset_job,
    multi_asset_check,
)
from dagster_dbt import DbtCliResource

from ingest.catalog import FEEDS
from orchestration.partitions import WAREHOUSE_POOL

CHECK = "freshness"
RAW = "raw"


@multi_asset_check(
    name="feed_freshness",
    specs=[
        AssetCheckSpec(
            CHECK,
            asset=AssetKey([RAW, feed.name]),
            description=(
                f"dbt source freshness of raw.{feed.name}: the newest `_loaded_at` against the "
                "thresholds declared on its dbt source (daily feeds: warn after 2 days, fail "
                "after 7; reference tables: warn after 400 days)."
            ),
        )
        for feed in FEEDS
    ],
    pool=WAREHOUSE_POOL,  # dbt opens the warehouse; DuckDB allows one writing process
)
def feed_freshness(context: AssetCheckExecutionContext, dbt: DbtCliResource):
    invocation = dbt.cli(["source", "freshness"], raise_on_error=False)
    invocation.wait()
    results = json.loads((invocation.target_path / "sources.json").read_text())["results"]
    for result in results:
        _, _, _, table = result["unique_id"].split(".", 3)
        yield verdict(AssetKey([RAW, table]), result)


def verdict(key: AssetKey, result: dict) -> AssetCheckResult:
    """One source's freshness result (an entry of dbt's sources.json) as a check result."""
    status = result.get("status", "runtime error")
    if status == "runtime error":
        return AssetCheckResult(
            asset_key=key,
            check_name=CHECK,
            passed=False,
            severity=AssetCheckSeverity.ERROR,
            description=f"dbt could not measure it: {result.get('error') or result.get('message')}",
        )
    hours = result["max_loaded_at_time_ago_in_s"] / 3600
    criteria = result.get("criteria") or {}
    limits = ", ".join(
        f"{name.split('_')[0]} after {rule['count']} {rule['period']}(s)"
        for name, rule in criteria.items()
        if isinstance(rule, dict) and rule.get("count")
    )
    return AssetCheckResult(
        asset_key=key,
        check_name=CHECK,
        passed=status == "pass",
        severity=AssetCheckSeverity.ERROR if status == "error" else AssetCheckSeverity.WARN,
        description=f"last loaded {hours:.1f} hours ago ({status}; {limits or 'no limits'})",
        metadata={
            "max_loaded_at": str(result["max_loaded_at"]),
            "hours_since_load": MetadataValue.float(round(hours, 2)),
            "status": status,
        },
    )


freshness_job = define_asset_job(
    # Not the check's own name: a job and an op of one name make the code location unloadable.
    name="freshness_of_feeds",
    selection=AssetSelection.checks(feed_freshness),
    description="dbt source freshness of every feed, as checks on the raw assets.",
)

freshness_schedule = ScheduleDefinition(
    name="feed_freshness_hourly",
    job=freshness_job,
    cron_schedule="17 * * * *",
    default_status=DefaultScheduleStatus.RUNNING,
    description=(
        "Every hour: has each feed landed within its dbt source freshness limits? A feed "
        "that has not is a failed (or warning) `freshness` check on its raw asset."
    ),
)
