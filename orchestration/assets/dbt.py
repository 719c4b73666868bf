"""dbt models as Dagster assets; dbt tests run in the same `dbt build` and show as checks.

Two invocations split the project by partitioning: models tagged `daily` (staging views of
the daily feeds, the incremental marts and features) run over the run's partition window;
everything else (reference staging, dimensions, seeds) is unpartitioned. The staging views
of the daily feeds are partitioned although a view holds no data: it keeps them, and so the
marts, downstream of the daily ingest assets within a run that skips the unpartitioned
assets (an unchanged reference). Without it Dagster ran dbt before ingest.
"""

import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, AssetKey, Output
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)
from dagster_shared.record import replace

from ingest.recorded import record_step
from ingest.settings import Settings, get_settings
from ingest.spark_raw import publish_missing_raw_parquet
from ingest.spark_server import set_environment, spark_environment, uses_connect_server
from ingest.spark_session import spark_session
from ingest.spark_session import table_counts as spark_table_counts
from ingest.warehouse import connect
from ingest.windows import dbt_window_env
from orchestration.partitions import WAREHOUSE_POOL, daily_partitions, single_run
from orchestration.resources import dbt_project

GROUPS = {"staging": "staging", "marts": "marts", "features": "features", "ml": "evaluation"}


class FlightlineTranslator(DagsterDbtTranslator):
    """Asset keys are the warehouse's schema.table, so raw.schedules written by the ingest
    asset is the same asset as dbt's source('ops', 'schedules')."""

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
        return AssetKey([dbt_resource_props["schema"], dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            # Seeds are inputs like the feeds: one group holds everything that comes in.
            return "ingest"
        folder = dbt_resource_props["fqn"][1] if len(dbt_resource_props["fqn"]) > 2 else None
        return GROUPS.get(folder, "warehouse")

    def get_asset_check_spec(self, asset_spec, manifest, unique_id, project):
        """dagster-dbt describes a check only from the test's meta; use the test's own
        description, or say what the test checks, so the UI explains every check."""
        spec = super().get_asset_check_spec(asset_spec, manifest, unique_id, project)
        if spec is None or spec.description:
            return spec
        return replace(spec, description=describe_test(manifest["nodes"][unique_id]))


def describe_test(test: Mapping[str, Any]) -> str:
    if test.get("description"):
        return test["description"]
    metadata = test.get("test_metadata") or {}
    kind = metadata.get("name", "unit" if test.get("resource_type") == "unit_test" else "custom")
    column = test.get("column_name")
    kwargs = metadata.get("kwargs", {})
    what = {
        "unique": f"no two rows share {column}",
        "not_null": f"{column} is never null",
        "accepted_values": f"{column} only takes the accepted values {kwargs.get('values')}",
        "relationships": f"every {column} exists in {kwargs.get('to', '')} "
        f"({kwargs.get('field', '')})",
        "relationships_same_day": (
            f"every ({', '.join(kwargs['columns'])}) exists in {kwargs.get('to', '')}"
            if kwargs.get("columns")
            else f"every {column} exists in {kwargs.get('to', '')} ({kwargs.get('field', '')})"
        )
        + ", read for the run's dates",
        "unique_combination": f"no two rows share ({', '.join(kwargs.get('columns', []))})",
    }.get(kind, f"dbt test {test.get('name')}")
    severity = (test.get("config") or {}).get("severity", "error").lower()
    return f"dbt {kind} test ({severity}): {what}."


translator = FlightlineTranslator(
    settings=DagsterDbtTranslatorSettings(enable_asset_checks=True, enable_code_references=False)
)


def _with_row_counts(
    context: AssetExecutionContext, events: list[Any], settings: Settings
) -> Iterator[Any]:
    """Add row counts once dbt has exited: DuckDB lets one process hold the file, so the
    counts cannot be read while dbt (a subprocess) is still writing. Asset keys are
    [schema, table], so the key names the relation."""
    outputs = [event for event in events if isinstance(event, Output)]
    counts: dict[str, int] = {}
    if outputs and settings.engine == "spark":
        # From the Parquet footers (ingest/spark_session.py), without starting Spark.
        on_spark = dict(spark_table_counts(settings))
        for event in outputs:
            name = ".".join(context.asset_key_for_output(event.output_name).path[-2:])
            if name in on_spark:  # a view (the staging models) has no files and no count
                counts[event.output_name] = on_spark[name]
    elif outputs:
        con = connect(settings.warehouse, read_only=True)
        try:
            for event in outputs:
                schema, table = context.asset_key_for_output(event.output_name).path[-2:]
                counts[event.output_name] = con.execute(
                    f'select count(*) from "{schema}"."{table}"'
                ).fetchone()[0]
        finally:
            con.close()
    for event in events:
        if isinstance(event, Output) and event.output_name in counts:
            yield event.with_metadata(
                {**event.metadata, "dagster/row_count": counts[event.output_name]}
            )
        else:
            yield event


def _build(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    args: list[str],
    environment: Mapping[str, str] | None = None,
) -> Iterator[Any]:
    """Run dbt with `environment` added to this process's (dagster-dbt passes os.environ
    to the dbt subprocess as it starts, and has no parameter for more)."""
    settings = get_settings()
    added: dict[str, str | None] = dict(environment or {})
    if settings.engine == "spark":
        publish_missing_raw_parquet(settings.warehouse, settings.spark / "raw")
        # The Connect server started (or found) here, with flightline's settings, before dbt
        # connects to it (ingest/spark_server.py); dbt's environment says where it is.
        if uses_connect_server():
            spark_session(settings)
        added |= spark_environment(settings)
    saved = {name: os.environ.get(name) for name in added}
    set_environment(added)
    # What it ran, kept for `flightline debug`: the command (its selection), the window and
    # the manifest, to run the same build against a restored copy of the inputs.
    step = context.op_def.name
    arguments = {"environment": dict(environment or {})}
    with record_step(settings, context.run.run_id, step, arguments) as rec:
        rec.keep_file(Path(dbt_project.manifest_path))  # before dbt starts: nothing to stop
        try:
            invocation = dbt.cli(args, context=context)
        finally:
            set_environment(saved)
        rec.arguments["command"] = [str(arg) for arg in invocation.process.args]
        events = list(invocation.stream())
    yield from _with_row_counts(context, events, settings)


# The pipeline's `dbt build`: models, seeds and data tests. Unit tests check the SQL, not the
# data: their inputs are fixed, so dbt runs them where the SQL changes (`dbt build` in CI and
# locally, tests/dbt), not every evening (dagster-dbt shows no check for them either). And no
# manifest.json or run_results.json per invocation: Dagster records every node's result from
# dbt's event stream, and the files cost ~0.6 s a build (measured, dbt 1.11). The log file
# (dbt.log) stays at dbt's debug level: `--log-level-file warn` saved ~0.4 s a build, but dbt
# writes an internal or adapter error's traceback only at debug level, and dagster-dbt's
# failure message sends the operator to that file.
BUILD = ["build", "--exclude-resource-type", "unit_test", "--no-write-json"]

# What every dbt asset shares: the manifest, the asset keys and checks, and the one-writer pool.
DBT_ASSETS = {
    "manifest": dbt_project.manifest_path,
    "dagster_dbt_translator": translator,
    "project": dbt_project,
    "pool": WAREHOUSE_POOL,
}


@dbt_assets(
    **DBT_ASSETS,
    select="tag:daily",
    name="dbt_daily_models",
    partitions_def=daily_partitions,
    backfill_policy=single_run,
)
def dbt_daily_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """Incremental models over the run's partition window, one dbt invocation per run."""
    window = context.partition_key_range
    context.log.info(f"dbt build for flight dates {window.start} .. {window.end}")
    yield from _build(context, dbt, BUILD, dbt_window_env(window.start, window.end))


@dbt_assets(**DBT_ASSETS, exclude="tag:daily tag:ml", name="dbt_reference_models")
def dbt_reference_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """Reference staging, dimensions and seeds: small, rebuilt whole."""
    yield from _build(context, dbt, BUILD)


@dbt_assets(**DBT_ASSETS, select="tag:ml", name="dbt_evaluation_models")
def dbt_evaluation_models(context: AssetExecutionContext, dbt: DbtCliResource):
    """Predictions joined with outcomes, and daily model performance: rebuilt after scoring."""
    yield from _build(context, dbt, BUILD)
