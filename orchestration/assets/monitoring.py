"""Monitoring the live model: feature and score drift per scored day, the retraining
decision the planner acts on, and the out-of-time section of the model cards. The measures,
the decision and the cards are in ml/."""

from dataclasses import asdict
from pathlib import Path

from dagster import (
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
)

from ml import registry
from ml.drift import (
    RECENT_DAYS,
    SCORE,
    TRAILING_DAYS,
    DriftThresholds,
    drift_for_days,
    drift_span,
    write_drift,
)
from ml.features import FEATURE_RELATION
from ml.monitoring import decide_retraining, decision_inputs, gather_evidence
from orchestration.checks import Verdict, per_partition
from orchestration.keys import DECISION, DRIFT, MODEL_CARD, PERFORMANCE, PREDICTIONS
from orchestration.partitions import WAREHOUSE_POOL, daily_partitions, single_run
from orchestration.resources import MlSettings, WarehouseResource

DRIFT_CHECK = "psi_within_bounds"


def _day_check(day: str, rows, thresholds: DriftThresholds) -> Verdict:
    rows = rows.assign(shift=rows[["psi", "psi_recent"]].min(axis=1))
    alerts = rows[rows.status == "alert"].sort_values("shift", ascending=False)
    warns = rows[rows.status == "warn"].sort_values("shift", ascending=False)

    def named(found):
        return ", ".join(
            f"{r.feature} {r.psi:.2f} / "
            + ("n/a" if r.psi_recent != r.psi_recent else f"{r.psi_recent:.2f}")
            for r in found.head(5).itertuples()
        )

    if len(alerts):
        severity, passed = AssetCheckSeverity.ERROR, False
        description = (
            f"{len(alerts)} population column(s) shifted above {thresholds.alert} against the "
            "training window and the month before (against training alone when there is no "
            f"month before; PSI training / recent): {named(alerts)}"
        )
    elif len(warns):
        severity, passed = AssetCheckSeverity.WARN, False
        description = (
            f"{len(warns)} population column(s) above {thresholds.warn} against both "
            f"references (PSI training / recent): {named(warns)}"
        )
    else:
        severity, passed = AssetCheckSeverity.WARN, True
        description = (
            f"the flights' population is stable (every alerting column at most {thresholds.warn} "
            "against the training window or the month before)"
        )
    score = rows[rows.feature == SCORE]
    columns = ["feature", "kind", "psi", "psi_recent", "status"]
    metadata = {
        "window": MetadataValue.text(f"{rows.window_start.iloc[0]} .. {day}"),
        "score_psi": MetadataValue.float(float(score.psi.iloc[0]) if len(score) else float("nan")),
        "columns_alert": MetadataValue.int(len(alerts)),
        "columns_warn": MetadataValue.int(len(warns)),
        "alerting_columns": MetadataValue.md(
            rows[rows.alerting]
            .sort_values("shift", ascending=False)[columns]
            .round(3)
            .to_markdown(index=False)
        ),
        "watched_columns": MetadataValue.md(
            rows[~rows.alerting]
            .sort_values("psi_recent", ascending=False)[columns]
            .round(3)
            .to_markdown(index=False)
        ),
    }
    return Verdict(day, passed, severity, description, metadata)


@asset(
    key=DRIFT,
    group_name="monitoring",
    deps=[PREDICTIONS],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    check_specs=[
        AssetCheckSpec(
            DRIFT_CHECK,
            asset=DRIFT,
            partitions_def=daily_partitions,
            description=(
                "Whether the flights' population (carrier, airports, schedule, fleet) of the "
                "week ending on the day shifted against both the champion's training window "
                "and the month before: warns above 0.1, fails above 0.25 (PSI). Calendar, "
                "rolling-rate and weather columns and the score are measured and shown, never "
                "judged (docs/monitoring.md says why). Not blocking: drift is a reason to look "
                "and to retrain, not to stop scoring."
            ),
        )
    ],
    description=(
        f"ml.feature_drift: for each scored day, the PSI of every feature and of the score "
        f"over the {TRAILING_DAYS} days ending on it, against the champion's reference "
        f"(features: its training window; score: its validation window) and against the "
        f"{RECENT_DAYS} days before."
    ),
)
def feature_drift(context: AssetExecutionContext, warehouse: WarehouseResource, ml: MlSettings):
    thresholds = DriftThresholds(warn=ml.drift_warn, alert=ml.drift_fail)
    days = context.partition_keys
    with warehouse.connect() as con:
        model = registry.require_champion(con)
        data = warehouse.data(con)
        arguments = {"days": days, "thresholds": asdict(thresholds)}
        # The model by its version (and its drift reference, an artifact), the windows'
        # feature rows and the champion's predictions by copy.
        with warehouse.recording(context, "drift", arguments, model) as rec:
            first, last = drift_span(days)
            window = "flight_date between ? and ?"
            rec.copy_rows(con, FEATURE_RELATION, window, [first, last])
            rec.copy_rows(
                con,
                "ml.predictions",
                f"model_version = ? and {window}",
                [model.model_version, first, last],
            )
            rows = drift_for_days(data, model, days, thresholds)
        write_drift(con, rows)
    last = rows[rows.flight_date == rows.flight_date.max()].sort_values("psi", ascending=False)
    yield MaterializeResult(
        asset_key=DRIFT,
        metadata={
            "model_version": model.model_version,
            "partition_window": f"{days[0]} .. {days[-1]}",
            "dagster/row_count": len(rows),
            "last_day": str(last.flight_date.iloc[0]),
            "last_day_score_psi": float(last[last.feature == SCORE].psi.iloc[0]),
            "last_day_columns": MetadataValue.md(
                last[["feature", "kind", "psi", "psi_recent", "status"]]
                .round(3)
                .to_markdown(index=False)
            ),
            **rec.metadata(),
        },
    )
    by_day = {str(day): group for day, group in rows.groupby("flight_date")}
    yield from per_partition(
        DRIFT,
        DRIFT_CHECK,
        (_day_check(day, by_day[day], thresholds) for day in days),
        blocking=False,
    )


@asset(
    key=DECISION,
    group_name="monitoring",
    deps=[DRIFT, PERFORMANCE],
    pool=WAREHOUSE_POOL,
    description=(
        "Whether the champion should be retrained, and why: recent evaluated ROC AUC against "
        "its validation AUC, the drift monitor's alerts, and its age. The planner (the "
        "daily_loop sensor, flightline run) reads this asset's metadata, never the warehouse, "
        "and requests the training pipeline."
    ),
)
def retraining_decision(
    context: AssetExecutionContext, warehouse: WarehouseResource, ml: MlSettings
) -> MaterializeResult:
    policy = ml.retraining_policy()
    with warehouse.connect() as con:
        model = registry.require_champion(con)
        data = warehouse.data(con)
        arguments = {"policy": asdict(policy)}
        with warehouse.recording(context, "retraining_decision", arguments, model) as rec:
            for relation, where, params in decision_inputs(con, data, model, policy):
                rec.copy_rows(con, relation, where, params)
            evidence = gather_evidence(con, model, policy, outcomes=data)
            decision = decide_retraining(evidence, policy) if evidence else None
    recorded = rec.metadata()
    if evidence is None:
        return MaterializeResult(
            metadata={
                "retrain": False,
                "trigger": "none",
                "reason": f"no prediction of {model.model_version} has an outcome yet",
                "champion_version": model.model_version,
                **recorded,
            }
        )
    context.log.info(decision.reason)
    return MaterializeResult(
        metadata={
            **decision.as_metadata(),
            "champion_version": model.model_version,
            "as_of": evidence.as_of.isoformat(),
            "recent_roc_auc": evidence.recent_auc
            if evidence.recent_auc is not None
            else float("nan"),
            "recent_flights": evidence.recent_flights,
            "score_psi": evidence.score_psi if evidence.score_psi is not None else float("nan"),
            **recorded,
        }
    )


@asset(
    key=MODEL_CARD,
    group_name="evaluation",
    deps=[PERFORMANCE],
    pool=WAREHOUSE_POOL,
    description=(
        "The out-of-time section of each model card (data/models/VERSION/model_card.md): "
        "pooled and daily ROC AUC, base rate and mean score on the days the model scored "
        "whose outcomes arrived. Training writes the rest of the card."
    ),
)
def model_card(warehouse: WarehouseResource) -> MaterializeResult:
    from ml.report import update_model_cards  # scikit-learn: orchestration/definitions.py

    with warehouse.connect() as con:
        written = update_model_cards(con, outcomes=warehouse.data(con))
        model = registry.champion(con)
    figures = written.get(model.model_version) if model else None
    if figures is None:
        return MaterializeResult(metadata={"models_updated": len(written)})
    return MaterializeResult(
        metadata={
            "models_updated": len(written),
            "champion_version": model.model_version,
            "out_of_time_window": f"{figures['first_day']} .. {figures['last_day']}",
            "out_of_time_flights": figures["flights"],
            "out_of_time_roc_auc": round(figures["roc_auc"], 4),
            "out_of_time_base_rate": round(figures["base_rate"], 4),
            "out_of_time_mean_score": round(figures["mean_score"], 4),
            "model_card": MetadataValue.path(str(Path(model.artifact_path) / "model_card.md")),
        }
    )


monitoring_assets = [feature_drift, retraining_decision, model_card]
