"""The analysts' snapshot as an asset: every route that changes the warehouse publishes it
through the same definition (the UI by the publish sensor after a pipeline run succeeds,
`flightline run` by launching the same job at its end). ingest/publish.py says how."""

from dagster import AssetExecutionContext, AssetKey, Config, MaterializeResult, MetadataValue, asset

from ingest.publish import publish_snapshot
from orchestration.keys import DECISION, FLIGHT_FEATURES, PERFORMANCE, PREDICTIONS
from orchestration.partitions import WAREHOUSE_POOL
from orchestration.resources import WarehouseResource

SNAPSHOT = AssetKey(["analytics", "snapshot"])


class PublishConfig(Config):
    runs: list[str] = []
    """The runs whose changes this snapshot carries (recorded in meta.snapshot_info)."""


# Drawn after what analysts read last in the graph (a dependency for the picture and for
# "Materialize all"; the job selects only the snapshot).
UPSTREAM = [FLIGHT_FEATURES, PREDICTIONS, PERFORMANCE, DECISION]


@asset(
    key=SNAPSHOT,
    group_name="publish",
    deps=UPSTREAM,
    pool=WAREHOUSE_POOL,
    kinds={"duckdb"},
    description=(
        "analytics.duckdb: a complete copy of the warehouse that analysts open read-only, "
        "swapped in atomically (an open reader keeps its copy). Published after each "
        "pipeline run that succeeded, so it never holds a half-built state."
    ),
)
def analytics_snapshot(
    context: AssetExecutionContext, config: PublishConfig, warehouse: WarehouseResource
) -> MaterializeResult:
    published = publish_snapshot(warehouse.settings.warehouse, config.runs)
    return MaterializeResult(
        metadata={
            "path": MetadataValue.path(str(published.path)),
            "bytes": published.bytes,
            "seconds": round(published.seconds, 2),
            "published_at": published.published_at.isoformat(),
            "runs": ", ".join(config.runs) or "(none named)",
        }
    )
