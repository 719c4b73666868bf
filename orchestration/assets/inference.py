"""The inference pipeline's own assets: the scoring gate on each day's features
(ready_to_score) and the day's predictions by the champion. Evaluation and monitoring are in
orchestration/assets/dbt.py and monitoring.py.

Scoring lives in ml/scoring.py; these assets wire it to Dagster and put the day's scores
into the UI."""

from datetime import date, timedelta

import numpy as np
from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from ingest.quality import validate
from ingest.quality_sql import validate_sql
from ml import registry
from ml.features import FEATURE_RELATION, FEATURES, KEY_COLUMNS, LABEL, read_features
from ml.scoring import score_days, score_days_on_spark
from orchestration.checks import per_partition, verdict
from orchestration.keys import CHAMPION, FLIGHT_FEATURES, GATE_JOB, PREDICTIONS
from orchestration.partitions import WAREHOUSE_POOL, daily_partitions, single_run
from orchestration.resources import WarehouseResource


@asset_check(
    asset=FLIGHT_FEATURES,
    name="ready_to_score",
    partitions_def=daily_partitions,
    blocking=True,
    # It opens the warehouse, so it takes the pool's slot like the assets that do: outside
    # it, a publish run the status sensor started beside the daily loop's inference run
    # held the file, and the gate failed with WarehouseBusy (the hands-off test, once).
    pool=WAREHOUSE_POOL,
    description=(
        "The scoring gate: the features of each day to score against their Great "
        "Expectations suite (ml/expectations.py): the day's forecast arrived, rates within "
        "[0, 1], plausible weather, the usual number of flights. Blocking: a day failing a "
        "critical expectation is not scored (flightline run scores the other days)."
    ),
)
def ready_to_score(context: AssetCheckExecutionContext, warehouse: WarehouseResource):
    # Imported where a suite is validated: its suites are Great Expectations objects, and
    # GX costs ~3 s in every process that loads the definitions (the UI's code server, each
    # run's process in `dagster dev`) whether it validates or not.
    from ml import expectations

    days = context.partition_keys
    first, last = date.fromisoformat(days[0]), date.fromisoformat(days[-1])
    with warehouse.connect() as con:
        data = warehouse.data(con)
        # The usual day: the median of the 4 weeks before the window and the window itself.
        (usual,) = data.execute(
            f"select median(n) from (select count(*) as n from {FEATURE_RELATION} "
            "where flight_date between ? and ? group by flight_date)",
            [first - timedelta(days=28), last],
        ).fetchone()
        if data is con:
            # In DuckDB: the window's rows never pass through pandas (quality_sql.validate_sql).
            listed = ", ".join(f"date '{date.fromisoformat(day)}'" for day in days)
            relation = (
                f"(select {', '.join([*KEY_COLUMNS, *FEATURES, LABEL])}, "
                f"flight_date::varchar as _day from {FEATURE_RELATION} "
                f"where flight_date in ({listed}))"
            )
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
        else:
            # On Spark: the window's rows as pandas, through the same suite and verdicts
            # (quality.validate). An evening's window is a day (tens of thousands of flights
            # even for all of the US); a backfill's window of many days is read whole.
            frame = read_features(data, first, last)
            frame = frame[frame.flight_date.astype(str).isin(days)].reset_index(drop=True)
            frame["_day"] = frame.flight_date.astype(str)
            validation = validate(
                warehouse.settings.quality,
                expectations.FEATURES,
                frame,
                "_day",
                days,
                usual_rows=usual,
            )
    # Blocking where it guards scoring (the inference pipeline). In the scoring_gate job
    # nothing runs after it: a day that fails is recorded, and the run still succeeds.
    yield from per_partition(
        FLIGHT_FEATURES,
        "ready_to_score",
        (verdict(validation, day) for day in days),
        blocking=context.run.job_name != GATE_JOB,
        output_name="result",
    )


@asset(
    key=PREDICTIONS,
    group_name="inference",
    deps=[FLIGHT_FEATURES, CHAMPION],
    partitions_def=daily_partitions,
    backfill_policy=single_run,
    pool=WAREHOUSE_POOL,
    kinds={"python"},
    description=(
        "Batch inference: every scheduled flight of the partition's day scored by the "
        "champion, from the same feature rows training reads. Re-scoring a day replaces it."
    ),
)
def predictions(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    from ml.report import score_histogram  # scikit-learn: orchestration/definitions.py

    days = context.partition_keys
    with warehouse.connect() as con:
        model = registry.require_champion(con)
        data = warehouse.data(con)
        # What it reads, kept for `flightline debug` (orchestration/debug.py): the model by
        # its version, the days' feature rows by copy (they are rebuilt and rescored).
        with warehouse.recording(context, "predictions", {"days": days}, model) as rec:
            rec.copy_rows(
                con, FEATURE_RELATION, "flight_date in (select unnest(?::date[]))", [days]
            )
            if data is con:
                scored = score_days(con, model, days)
            else:
                scored = score_days_on_spark(data, model, days)
    without_forecast = [(day.day, day.without_forecast) for day in scored]
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
            **rec.metadata(),
        }
    )


@asset_check(
    asset=PREDICTIONS,
    name="no_flight_scored_twice",
    blocking=True,
    pool=WAREHOUSE_POOL,  # opens the warehouse
    description="Every flight appears at most once in ml.predictions.",
)
def no_flight_scored_twice(warehouse: WarehouseResource) -> AssetCheckResult:
    with warehouse.connect() as con:
        duplicates = (
            warehouse.data(con)
            .execute(
                "select count(*) from (select flight_id from ml.predictions "
                "group by flight_id having count(*) > 1)"
            )
            .fetchone()[0]
        )
    return AssetCheckResult(passed=duplicates == 0, metadata={"duplicated_flights": duplicates})


inference_assets = [predictions]
inference_checks = [ready_to_score, no_flight_scored_twice]
