"""Training and inference pipelines: candidate -> promotion gate -> champion -> predictions.

All decisions live in ml/ (training, the gate, scoring); these assets wire them to Dagster
and put what a person needs to judge a model into the UI."""

import base64
from datetime import date, timedelta

import numpy as np
import pandas as pd
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetIn,
    AssetKey,
    Config,
    MaterializeResult,
    MetadataValue,
    Output,
    asset,
    asset_check,
)

from ingest.quality import validate, validate_sql
from ingest.settings import REPO_ROOT
from ml import expectations, registry
from ml.features import FEATURE_RELATION, FEATURES, KEY_COLUMNS, LABEL, prepare
from ml.promotion import evaluate_gate, promote, record_decision
from ml.report import importance_markdown, score_histogram
from ml.scoring import score_days
from ml.selection import fingerprint
from ml.training import train_and_register
from ml.training import training_set as read_training_set
from ml.training_config import DEFAULT_CUTOFF, VALIDATION_DAYS, TrainingConfig
from orchestration.checks import per_partition, single_result, verdict
from orchestration.partitions import WAREHOUSE_POOL, daily_partitions, single_run
from orchestration.resources import MlSettings, WarehouseResource

CANDIDATE = AssetKey(["ml", "candidate_model"])
SCORING_GATE_JOB = "scoring_gate"  # orchestration/jobs.py
TRAINING_SET = AssetKey(["ml", "training_set"])
FEATURES_ASSET = AssetKey(["features", "flight_features"])


class TrainingRunConfig(Config):
    cutoff: str = DEFAULT_CUTOFF.isoformat()
    """Train on flight dates before this day; validate on the weeks just before it."""
    validation_days: int = VALIDATION_DAYS
    trigger: str = "manual"
    """Why this training runs (manual, first model, drift, schedule, ...): recorded."""


TRAINING_SET_OP = "ml__training_set"


def training_run_config(cutoff: str, trigger: str, validation_days: int = VALIDATION_DAYS) -> dict:
    """The run config of the training pipeline, for the CLI, the replay and the sensor."""
    return {
        "ops": {
            TRAINING_SET_OP: {
                "config": {
                    "cutoff": cutoff,
                    "validation_days": validation_days,
                    "trigger": trigger,
                }
            }
        }
    }


def _image(png: bytes, alt: str) -> str:
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode()})"


def _window(windows: dict[str, str], name: str) -> str:
    return f"{windows[name + '_start']} .. {windows[name + '_end']}"


@asset(
    key=TRAINING_SET,
    group_name="training",
    deps=[FEATURES_ASSET],
    pool=WAREHOUSE_POOL,
    kinds={"parquet"},
    description=(
        "The training set of a run: labelled rows of features.flight_features before the "
        "cutoff, written to training_sets/CUTOFF-FINGERPRINT.parquet so the exact input "
        "of every model can be read again. Validated by its expectations before training."
    ),
)
def training_set(
    context: AssetExecutionContext, config: TrainingRunConfig, warehouse: WarehouseResource
) -> Output[dict]:
    settings = warehouse.settings
    training = TrainingConfig(
        cutoff=date.fromisoformat(config.cutoff), validation_days=config.validation_days
    )
    with warehouse.connect() as con:
        frame = read_training_set(con, training)
    digest = fingerprint(frame) if len(frame) else "empty"
    path = settings.training_sets / f"{config.cutoff}-{digest[:10]}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)
    label_rate = float(frame[LABEL].astype(float).mean()) if len(frame) else float("nan")
    # The value downstream steps read (through the IO manager, so a re-execution reads the
    # same one): this run's file and settings, never "the latest" of some other run.
    value = {
        "path": str(path),
        "cutoff": config.cutoff,
        "validation_days": config.validation_days,
        "trigger": config.trigger,
        "data_fingerprint": digest,
    }
    return Output(
        value,
        metadata={
            "path": MetadataValue.path(str(path)),
            "cutoff": config.cutoff,
            "validation_days": config.validation_days,
            "trigger": config.trigger,
            "dagster/row_count": len(frame),
            "first_day": str(frame.flight_date.min()) if len(frame) else "",
            "last_day": str(frame.flight_date.max()) if len(frame) else "",
            "label_rate": label_rate,
            "data_fingerprint": digest,
        },
    )


@asset_check(
    asset=TRAINING_SET,
    name="expectations",
    blocking=True,
    description=(
        "The training set's Great Expectations suite (ml/expectations.py): labels present, "
        "flights unique, rates within [0, 1], enough rows, label base rate within bounds. "
        "Blocking: a bad training set trains no model."
    ),
)
def training_set_expectations(
    context: AssetCheckExecutionContext, training_set: dict, warehouse: WarehouseResource
) -> AssetCheckResult:
    inputs = training_set
    frame = pd.read_parquet(inputs["path"])
    frame[LABEL] = frame[LABEL].astype("boolean")
    validation = validate(warehouse.settings.quality, expectations.TRAINING_SET, frame, None)
    result = verdict(validation, "all")
    result[4]["training_set"] = MetadataValue.path(str(inputs["path"]))
    return single_result(result)


@asset_check(
    asset=FEATURES_ASSET,
    name="ready_to_score",
    partitions_def=daily_partitions,
    blocking=True,
    description=(
        "The scoring gate: the features of each day to score against their Great "
        "Expectations suite (ml/expectations.py): the day's forecast arrived, rates within "
        "[0, 1], plausible weather, the usual number of flights. Blocking: a day failing a "
        "critical expectation is not scored (flightline run scores the other days)."
    ),
)
def ready_to_score(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
    days = context.partition_keys
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    listed = ", ".join(f"date '{date.fromisoformat(day)}'" for day in days)
    # In DuckDB: the window's rows never pass through pandas (ingest.quality.validate_sql).
    relation = (
        f"(select {', '.join([*KEY_COLUMNS, *FEATURES, LABEL])}, flight_date::varchar as _day "
        f"from {FEATURE_RELATION} where flight_date in ({listed}))"
    )
    with warehouse.connect() as con:
        # The usual day: the median of the 4 weeks before the window and the window itself.
        (usual,) = con.execute(
            f"select median(n) from (select count(*) as n from {FEATURE_RELATION} "
            "where flight_date between ? and ? group by flight_date)",
            [first - timedelta(days=28), last],
        ).fetchone()
        validation = validate_sql(
            warehouse.settings.quality,
            expectations.FEATURES,
            con,
            relation,
            "_day",
            days,
            order_by="flight_date, flight_id",
            usual_rows=usual,
        )
    # Blocking where it guards scoring (the inference pipeline). In the scoring_gate job
    # nothing runs after it: a day that fails is recorded, and the run still succeeds.
    yield from per_partition(
        FEATURES_ASSET,
        "ready_to_score",
        (verdict(validation, day) for day in days),
        blocking=context.run.job_name != SCORING_GATE_JOB,
        output_name="result",
    )


@asset(
    key=CANDIDATE,
    group_name="training",
    ins={"training_set": AssetIn(TRAINING_SET)},
    pool=WAREHOUSE_POOL,
    kinds={"scikitlearn", "duckdb"},
    description=(
        "Trains and compares a route-rate baseline, logistic regression and gradient "
        "boosting (small grid) on the training set (features before the cutoff), validated "
        "on the last weeks before it (time-ordered). Registers the best as a candidate in "
        "ml.model_registry with its artifacts under models/{version}/."
    ),
)
def candidate_model(
    context: AssetExecutionContext, training_set: dict, warehouse: WarehouseResource
) -> Output[dict]:
    settings = warehouse.settings
    inputs = training_set
    config = TrainingRunConfig(
        cutoff=inputs["cutoff"],
        validation_days=inputs["validation_days"],
        trigger=inputs["trigger"],
    )
    training = TrainingConfig(
        cutoff=date.fromisoformat(config.cutoff), validation_days=config.validation_days
    )
    frame = prepare(pd.read_parquet(inputs["path"]))
    with warehouse.connect() as con:
        run = train_and_register(
            con, settings.models, REPO_ROOT, training, config.trigger, frame=frame
        )
    result, model = run.result, run.model
    metrics = result.metrics
    comparison = result.comparison[
        ["candidate", "stage", "training_rows", "roc_auc", "pr_auc", "log_loss", "brier"]
    ]
    files = settings.models / model.model_version
    context.log.info(
        f"candidate {model.model_version}: {result.chosen}, ROC AUC {metrics['roc_auc']:.4f}"
    )
    return Output(
        {"model_version": model.model_version, "cutoff": config.cutoff},
        metadata={
            "model_version": model.model_version,
            "reused_existing_version": run.reused,
            "algorithm": result.chosen,
            "trigger": config.trigger,
            "cutoff": config.cutoff,
            "training_window": _window(result.windows, "training"),
            "validation_window": _window(result.windows, "validation"),
            "training_rows": result.training_rows,
            "validation_rows": result.validation_rows,
            "validation_roc_auc": metrics["roc_auc"],
            "validation_pr_auc": metrics["pr_auc"],
            "validation_log_loss": metrics["log_loss"],
            "validation_brier": metrics["brier"],
            "threshold": result.threshold,
            "candidates": MetadataValue.md(comparison.round(4).to_markdown(index=False)),
            "calibration": MetadataValue.md(result.calibration.round(4).to_markdown(index=False)),
            "top_features": MetadataValue.md(importance_markdown(result)),
            "plots": MetadataValue.md(
                "\n\n".join(
                    _image((files / name).read_bytes(), name)
                    for name in ("roc.png", "calibration.png", "importance.png")
                )
            ),
            "model_card": MetadataValue.path(str(files / "model_card.md")),
        },
    )


@asset_check(
    asset=CANDIDATE,
    name="beats_champion",
    blocking=True,
    description=(
        "The promotion gate: the candidate becomes champion only if there is none yet, or if "
        "its ROC AUC beats the champion's on the candidate's validation window by the margin. "
        "Blocking: a worse model never reaches scoring."
    ),
)
def beats_champion(
    context: AssetCheckExecutionContext,
    candidate_model: dict,
    warehouse: WarehouseResource,
    ml: MlSettings,
) -> AssetCheckResult:
    version = candidate_model["model_version"]
    with warehouse.connect() as con:
        decision = evaluate_gate(con, version, ml.promotion_margin)
        record_decision(con, version, decision.promote, decision.reason, decision.champion_auc)
    return AssetCheckResult(
        passed=decision.promote,
        severity=AssetCheckSeverity.ERROR,
        description=decision.reason,
        metadata={
            "candidate_version": version,
            "candidate_roc_auc": decision.candidate_auc,
            "champion_version": decision.champion_version or "none",
            "champion_roc_auc_same_window": decision.champion_auc
            if decision.champion_auc is not None
            else float("nan"),
            "margin": ml.promotion_margin,
            "reason": decision.reason,
        },
    )


@asset(
    key=AssetKey(["ml", "champion_model"]),
    group_name="training",
    ins={"candidate_model": AssetIn(CANDIDATE)},
    pool=WAREHOUSE_POOL,
    description=(
        "Promotes the candidate that passed the gate to champion in ml.model_registry (the "
        "previous champion is retired). Runs only when beats_champion passed."
    ),
)
def champion_model(
    context: AssetExecutionContext, candidate_model: dict, warehouse: WarehouseResource
) -> MaterializeResult:
    version = candidate_model["model_version"]
    with warehouse.connect() as con:
        previous = registry.champion(con)
        decision = con.execute(
            "select decision from ml.model_registry where model_version = ?", [version]
        ).fetchone()
        if decision is None or decision[0] != "promote":
            raise registry.RegistryError(
                f"candidate {version} has no 'promote' decision from the gate; not promoting"
            )
        promote(con, version)
    return MaterializeResult(
        metadata={
            "champion_version": version,
            # The planner scores the days from here on with this champion.
            "cutoff": candidate_model.get("cutoff", ""),
            "previous_champion": previous.model_version if previous else "none",
        }
    )


@asset(
    key=AssetKey(["ml", "predictions"]),
    group_name="inference",
    deps=[FEATURES_ASSET, AssetKey(["ml", "champion_model"])],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description=(
        "Batch inference: every scheduled flight of the partition's day scored by the "
        "champion, from the same feature rows training reads. Re-scoring a day replaces it."
    ),
)
def predictions(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    days = context.partition_keys
    with warehouse.connect() as con:
        model = registry.require_champion(con)
        scored = score_days(con, model, days)
        without_forecast = con.execute(
            "select flight_date::varchar, count(*) from ml.predictions "
            "where forecast_missing and flight_date in (select unnest(?::date[])) "
            "group by all order by 1",
            [days],
        ).fetchall()
    scores = np.concatenate([day.scores for day in scored])
    context.log.info(
        f"scored {len(scores)} flights of {len(days)} day(s) with {model.model_version}"
    )
    return MaterializeResult(
        metadata={
            "model_version": model.model_version,
            "partition_window": f"{days[0]} .. {days[-1]}",
            "dagster/row_count": len(scores),
            "mean_score": float(scores.mean()),
            "predicted_delay_share": float((scores >= model.threshold).mean()),
            "threshold": model.threshold,
            "score_distribution": MetadataValue.md(score_histogram(scores)),
            # Flights scored without a forecast for their hour (ml.predictions.forecast_missing).
            "scored_without_forecast": sum(count for _, count in without_forecast),
            "days_without_forecast": ", ".join(
                f"{day} ({count})" for day, count in without_forecast if count > 100
            )
            or "none",
        }
    )


@asset_check(
    asset=AssetKey(["ml", "predictions"]),
    name="no_flight_scored_twice",
    blocking=True,
    description="Every flight appears at most once in ml.predictions.",
)
def no_flight_scored_twice(warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.connect() as con:
        duplicates = con.execute(
            "select count(*) from (select flight_id from ml.predictions "
            "group by flight_id having count(*) > 1)"
        ).fetchone()[0]
    return AssetCheckResult(passed=duplicates == 0, metadata={"duplicated_flights": duplicates})


ml_assets = [training_set, candidate_model, champion_model, predictions]
ml_checks = [training_set_expectations, ready_to_score, beats_champion, no_flight_scored_twice]
