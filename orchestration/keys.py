"""The names the Dagster UI and the run history know, declared once: the asset keys, the
check and the job names that more than one module refers to. Renaming one orphans its
history (its materializations, check results and runs stay under the old name)."""

from dagster import AssetCheckKey, AssetKey

FLIGHT_FEATURES = AssetKey(["features", "flight_features"])
ACTUALS = AssetKey(["raw", "actuals"])
TRAINING_SET = AssetKey(["ml", "training_set"])
CANDIDATE = AssetKey(["ml", "candidate_model"])
CHAMPION = AssetKey(["ml", "champion_model"])
PREDICTIONS = AssetKey(["ml", "predictions"])
OUTCOMES = AssetKey(["ml", "prediction_outcomes"])
PERFORMANCE = AssetKey(["ml", "model_performance_daily"])
DRIFT = AssetKey(["ml", "feature_drift"])
DECISION = AssetKey(["ml", "retraining_decision"])
MODEL_CARD = AssetKey(["ml", "model_card"])

GATE_CHECK = AssetCheckKey(FLIGHT_FEATURES, "ready_to_score")

FEATURE_JOB = "feature_pipeline"
TRAINING_JOB = "training_pipeline"
GATE_JOB = "scoring_gate"
INFERENCE_JOB = "inference_pipeline"
PUBLISH_JOB = "publish_snapshot"
PIPELINE_JOBS = (FEATURE_JOB, TRAINING_JOB, GATE_JOB, INFERENCE_JOB)
