"""The Definitions: every asset, check, job, schedule and sensor, and their resources.

Every process that serves or runs them imports this module: `dagster dev`'s code server, the
command (`flightline run`), and the process of each run the UI starts, forked from one that
imported it and the steps' modules once (orchestration/dagster_private/, fork_run_workers;
Dagster's own spawn imported them again for every run: ~4-5 s). So the asset modules import
the ML code that brings scikit-learn and matplotlib (ml.report, ml.training, ml.selection,
ml.promotion) inside the steps that use it: the code server, and a command's feature run,
never import them (tests/orchestration/test_definitions.py holds the Definitions to it)."""

from dagster import Definitions, in_process_executor

from orchestration.assets.dbt import dbt_daily_models, dbt_evaluation_models, dbt_reference_models
from orchestration.assets.freshness import feed_freshness, freshness_job, freshness_schedule
from orchestration.assets.inference import inference_assets, inference_checks
from orchestration.assets.ingest import ingest_assets
from orchestration.assets.monitoring import monitoring_assets
from orchestration.assets.publish import analytics_snapshot
from orchestration.assets.training import training_assets, training_checks
from orchestration.dagster_private import fork_run_workers
from orchestration.jobs import (
    feature_pipeline_job,
    inference_pipeline_job,
    publish_job,
    scoring_gate_job,
    training_pipeline_job,
)
from orchestration.resources import (
    MlSettings,
    RunScopedIOManager,
    WarehouseResource,
    dbt_resource,
)
from orchestration.sensors import daily_loop, publish_after_pipeline_runs

defs = Definitions(
    assets=[
        *ingest_assets,
        dbt_reference_models,
        dbt_daily_models,
        *training_assets,
        *inference_assets,
        dbt_evaluation_models,
        *monitoring_assets,
        analytics_snapshot,
    ],
    asset_checks=[*training_checks, *inference_checks, feed_freshness],
    jobs=[
        feature_pipeline_job,
        training_pipeline_job,
        scoring_gate_job,
        inference_pipeline_job,
        publish_job,
        freshness_job,
    ],
    schedules=[freshness_schedule],
    sensors=[daily_loop, publish_after_pipeline_runs],
    # Every run's steps in its run worker's process: the default starts a Python process per
    # step, each importing dagster, dbt and scikit-learn again (a day's feature run from the
    # UI took 1 min 50 s against 8 s for the same steps in one process). Steps that write
    # the warehouse run one at a time anyway (the duckdb_warehouse pool).
    executor=in_process_executor,
    resources={
        "warehouse": WarehouseResource(),
        "ml": MlSettings(),
        "dbt": dbt_resource(),
        # What one training step hands the next, kept per run: a run, and a re-execution of
        # it, reads its own upstream values, never another run's latest.
        "io_manager": RunScopedIOManager(),
    },
)

fork_run_workers()  # only a code server starts runs; elsewhere it is never called
