from datetime import timedelta

from dagster import BackfillPolicy, DailyPartitionsDefinition

from ingest.catalog import FIRST_DAY, LAST_DAY

# The domain's year (ingest/catalog.py); Dagster's end_date is exclusive.
daily_partitions = DailyPartitionsDefinition(
    start_date=FIRST_DAY.isoformat(), end_date=(LAST_DAY + timedelta(days=1)).isoformat()
)

# A backfill over any range is one run (one loader pass, one dbt invocation), not one per day.
single_run = BackfillPolicy.single_run()

# Every asset that writes the DuckDB warehouse: DuckDB allows one writing process at a time.
WAREHOUSE_POOL = "duckdb_warehouse"
