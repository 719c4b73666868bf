"""Asset checks that record one result per partition of a multi-day run.

A plain AssetCheckResult in a run over a partition range is stored without a partition, so
the UI cannot say which day failed. Dagster 1.13 takes an AssetCheckEvaluation per partition
(for a check spec with a partitions_def); the check's own output must then be emitted
explicitly, under the name `<asset key as identifier>_<check name>`.
"""

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from dagster import AssetCheckEvaluation, AssetCheckSeverity, AssetKey, MetadataValue, Output

from ingest.quality import CRITICAL, Validation


def failure_table(failures) -> str:
    """The failing expectations as a markdown table: what failed in words, how bad, the
    severity, and GX's name for the expectation."""
    lines = ["| what failed | severity | expectation |", "|---|---|---|"]
    for failure in failures:
        plain = failure.plain().replace("|", "/")
        lines.append(f"| {plain} | {failure.severity} | `{failure.expectation}` |")
    return "\n".join(lines)


class Verdict(NamedTuple):
    """One partition's check result, in the fields of Dagster's AssetCheckEvaluation."""

    partition: str
    passed: bool
    severity: AssetCheckSeverity
    description: str
    metadata: dict[str, Any]


def verdict(validation: Validation, partition: str, action: str = "") -> Verdict:
    """A partition's check result from a suite's validation: error if a critical expectation
    failed, warning otherwise; the failing expectations and the Data Docs page as metadata."""
    failures = validation.failures_of(partition)
    severity = validation.severity_of(partition)
    metadata: dict[str, Any] = {"failed_expectations": MetadataValue.int(len(failures))}
    if validation.docs:
        metadata["data_docs"] = MetadataValue.path(str(validation.docs))
    if failures:
        metadata["failures"] = MetadataValue.md(failure_table(failures))
    return Verdict(
        partition,
        not failures,
        AssetCheckSeverity.ERROR if severity == CRITICAL else AssetCheckSeverity.WARN,
        action + validation.summary(partition),
        metadata,
    )


def per_partition(
    key: AssetKey,
    check_name: str,
    results: Iterable[Verdict],
    blocking: bool,
    output_name: str | None = None,
) -> Iterator[Any]:
    """Each verdict as its partition's check evaluation. `output_name`: "result" for an
    @asset_check; a check spec of an asset has its own."""
    for result in results:
        yield AssetCheckEvaluation(
            asset_key=key, check_name=check_name, blocking=blocking, **result._asdict()
        )
    yield Output(None, output_name=output_name or f"{key.to_python_identifier()}_{check_name}")


def single_result(result: Verdict, **kwargs):
    """An unpartitioned check's result from a verdict (its partition is dropped)."""
    from dagster import AssetCheckResult

    fields = result._asdict()
    del fields["partition"]
    return AssetCheckResult(**fields, **kwargs)
