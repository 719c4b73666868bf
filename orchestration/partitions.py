from dagster import BackfillPolicy, DailyPartitionsDefinition

# The domain's year: flights of 2013 (end_date is exclusive).
daily_partitions = DailyPartitionsDefinition(start_date="2013-01-01", end_date="2014-01-01")

# A backfill over any range is one run (one loader pass, one dbt invocation), not one per day.
single_run = BackfillPolicy.single_run()

# Every asset that writes the DuckDB warehouse: DuckDB allows one writing process at a time.
WAREHOUSE_POOL = "duckdb_warehouse"
