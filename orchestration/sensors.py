"""The landing sensor: notices newly landed or changed feed files and requests one run for
the partitions they belong to. It never opens the warehouse (a DuckDB reader would block
the writer); it compares file sizes and modification times with its cursor."""

import hashlib
import json

from dagster import (
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SkipReason,
    sensor,
)

from ingest.catalog import FEEDS
from ingest.loader import PARTITION_RE, discover
from ingest.settings import get_settings
from ingest.windows import partition_range
from orchestration.jobs import feature_pipeline_job
from orchestration.partitions import daily_partitions


def landed_file_states() -> dict[str, str]:
    """path -> 'size:mtime_ns' for every landed file of every feed."""
    landing = get_settings().landing
    states = {}
    for feed in FEEDS:
        for path in discover(landing, feed):
            stat = path.stat()
            states[str(path)] = f"{stat.st_size}:{stat.st_mtime_ns}"
    return states


def changed_partitions(previous: dict[str, str], current: dict[str, str]) -> tuple[set[str], bool]:
    """Daily partitions with new or changed files, and whether a reference file changed."""
    partitions: set[str] = set()
    reference_changed = False
    valid = set(daily_partitions.get_partition_keys())
    for path, state in current.items():
        if previous.get(path) == state:
            continue
        stem = path.rsplit("/", 1)[-1].split(".", 1)[0]
        if PARTITION_RE.match(stem) and stem in valid:
            partitions.add(stem)
        else:
            reference_changed = True
    return partitions, reference_changed


@sensor(
    job=feature_pipeline_job,
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.STOPPED,
    description=(
        "Watches data/landing for new or changed feed files and requests one "
        "feature_pipeline run covering their dates (ingest, then dbt)."
    ),
)
def landing_files_sensor(context: SensorEvaluationContext):
    previous = json.loads(context.cursor) if context.cursor else {}
    current = landed_file_states()
    partitions, reference_changed = changed_partitions(previous, current)
    if not partitions and not reference_changed:
        return SkipReason("no new or changed files in landing/")
    window = partition_range(partitions) or (
        daily_partitions.get_last_partition_key(),
        daily_partitions.get_last_partition_key(),
    )
    context.update_cursor(json.dumps(current))
    return RunRequest(
        run_key=hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest(),
        tags={
            "dagster/asset_partition_range_start": window[0],
            "dagster/asset_partition_range_end": window[1],
            "flightline/trigger": "landing_files_sensor",
        },
    )
