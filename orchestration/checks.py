"""Asset checks that record one result per partition of a multi-day run.

A plain AssetCheckResult in a run over a partition range is stored without a partition, so
the UI cannot say which day failed. Dagster 1.13 takes an AssetCheckEvaluation per partition
(for a check spec with a partitions_def); the check's own output must then be emitted
explicitly, under the name `<asset key as identifier>_<check name>`.
"""

from collections.abc import Iterable, Iterator
from typing import Any

from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey, Output


def per_partition(
    key: AssetKey,
    check_name: str,
    results: Iterable[tuple[str, bool, AssetCheckSeverity, str, dict[str, Any]]],
    blocking: bool,
) -> Iterator[Any]:
    """Yield (partition, passed, severity, description, metadata) as check evaluations."""
    for partition, passed, severity, description, metadata in results:
        yield AssetCheckEvaluation(
            asset_key=key,
            check_name=check_name,
            partition=partition,
            passed=passed,
            severity=severity,
            description=description,
            metadata=metadata,
            blocking=blocking,
        )
    yield Output(None, output_name=f"{key.to_python_identifier()}_{check_name}")
