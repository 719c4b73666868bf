from dagster import AssetSelection, define_asset_job

from orchestration.assets.freshness import feed_freshness
from orchestration.assets.inference import ready_to_score
from orchestration.assets.publish import SNAPSHOT
from orchestration.keys import FEATURE_JOB, GATE_JOB, INFERENCE_JOB, PUBLISH_JOB, TRAINING_JOB
from orchestration.partitions import daily_partitions

# The scoring gate checks features.flight_features but belongs to the inference pipeline: in
# the feature pipeline a day without its forecast would fail the whole build.
SCORING_GATE = AssetSelection.checks(ready_to_score)

# Freshness is judged on a schedule of its own (orchestration/assets/freshness.py), not by
# every load.
FRESHNESS = AssetSelection.checks(feed_freshness)

feature_pipeline_job = define_asset_job(
    name=FEATURE_JOB,
    selection=AssetSelection.groups("ingest", "staging", "marts", "features")
    - SCORING_GATE
    - FRESHNESS,
    partitions_def=daily_partitions,
    description=(
        "Feature pipeline: land new feed files in raw (exactly once), then build staging, "
        "marts and features.flight_features with dbt for the run's partition window, dbt "
        "tests as checks. A date range is one run."
    ),
)

training_pipeline_job = define_asset_job(
    name=TRAINING_JOB,
    selection=AssetSelection.groups("training"),
    description=(
        "Training pipeline: train and compare candidates, register the best, and promote it "
        "only if it passes the blocking promotion gate (beats_champion)."
    ),
)

scoring_gate_job = define_asset_job(
    name=GATE_JOB,
    selection=SCORING_GATE,
    partitions_def=daily_partitions,
    description=(
        "The scoring gate alone: judges each day's features against their expectations "
        "before the inference pipeline runs, so that a day which fails is left out of the "
        "scoring run (and waits for new features) instead of stopping the other days."
    ),
)

inference_pipeline_job = define_asset_job(
    name=INFERENCE_JOB,
    selection=AssetSelection.groups("inference", "evaluation", "monitoring") | SCORING_GATE,
    partitions_def=daily_partitions,
    description=(
        "Inference pipeline: gate each day's features on their expectations (again: the "
        "scoring_gate job judged them first), score the days with the champion into "
        "ml.predictions, rebuild prediction outcomes and daily model performance, measure "
        "drift, and decide whether to retrain."
    ),
)

publish_job = define_asset_job(
    name=PUBLISH_JOB,
    selection=AssetSelection.keys(SNAPSHOT),
    description=(
        "Publish the analysts' snapshot (analytics.duckdb) from the warehouse. Started by the "
        "publish sensor after a pipeline run succeeds, and by `flightline run` at its end."
    ),
)
