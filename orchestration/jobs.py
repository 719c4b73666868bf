from dagster import AssetSelection, define_asset_job

from orchestration.partitions import daily_partitions

feature_pipeline_job = define_asset_job(
    name="feature_pipeline",
    selection=AssetSelection.groups("ingest", "staging", "marts", "features"),
    partitions_def=daily_partitions,
    description=(
        "Feature pipeline: land new feed files in raw (exactly once), then build staging, "
        "marts and features.flight_features with dbt for the run's partition window, dbt "
        "tests as checks. A date range is one run."
    ),
)

training_pipeline_job = define_asset_job(
    name="training_pipeline",
    selection=AssetSelection.groups("training"),
    description=(
        "Training pipeline: train and compare candidates, register the best, and promote it "
        "only if it passes the blocking promotion gate (beats_champion)."
    ),
)

inference_pipeline_job = define_asset_job(
    name="inference_pipeline",
    selection=AssetSelection.groups("inference", "evaluation", "monitoring"),
    partitions_def=daily_partitions,
    description=(
        "Inference pipeline: score the days of the run's partition window with the champion "
        "into ml.predictions, rebuild prediction outcomes and daily model performance, "
        "measure drift, and decide whether the champion needs retraining."
    ),
)
