from dagster import AssetSelection, define_asset_job

from orchestration.partitions import daily_partitions

feature_pipeline_job = define_asset_job(
    name="feature_pipeline",
    selection=AssetSelection.groups("ingest", "reference", "staging", "marts", "features"),
    partitions_def=daily_partitions,
    description=(
        "Land new feed files in raw (exactly once), then build staging, marts and "
        "features.flight_features with dbt for the run's partition window, dbt tests as "
        "checks. A date range is one run."
    ),
)
