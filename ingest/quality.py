"""Data-quality suites (Great Expectations), validated one partition at a time: the suites,
their verdicts, and GX's validation of a frame and of the partitions' profile. Tables DuckDB
holds are validated by quality_sql.py (row expectations compiled to SQL), with the same
verdicts.

A suite is code: two lists of GX expectations, reviewed like any code.
- `rows`: expectations on every row (ranges, sets, not-null). A failing row of a *critical*
  one is that row's problem: the loader quarantines it, with the expectation as its reason.
- `partitions`: expectations on the profile of each partition (one row per day: `rows`,
  and per column `<column>_null_share` and `<column>_mean`). A critical failure there is the
  whole day's problem (10% of the usual flights, half the readings null): the loader
  quarantines the day's file(s), the features gate stops scoring for that day.
*Warning* expectations never stop anything; they are reported on the asset check.

Why two validations per batch and not one per partition: GX costs ~0.25 s per validation
whatever its size (measured: 1k and 100k rows alike), so a year loaded in one run would pay
~6 minutes for 1,460 per-day validations. Validating the rows once with their unexpected
row indices, and the per-day profiles once, gives the same per-partition verdicts at a
fixed cost. GX's SQL path on DuckDB is broken (GX issues 10738, 11579): frames only.

GX facts that cost time (1.24): `suites.add_or_update` re-issues every expectation id and
then stale validation definitions refuse to run, so a suite is written only when its
content changed; `add_or_update_pandas` drops the data source's assets; progress bars go to
stderr and ignore TQDM_DISABLE (switched off in the context's variables); severity does not
change `success`, so the verdict is computed here from each failed expectation's severity.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

CRITICAL = "critical"
WARNING = "warning"
PARTITION = "partition"
SAMPLE_SIZE = 5


@dataclass(frozen=True)
class Suite:
    name: str
    rows: tuple[Any, ...] = ()
    partitions: tuple[Any, ...] = ()


@dataclass
class Failure:
    expectation: str
    """GX's name for it, with its arguments: what to look up in the suite and Data Docs."""
    severity: str
    partition: str | None
    unexpected: int
    checked: int
    sample: list[Any] = field(default_factory=list)
    observed: Any = None
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def is_day(self) -> bool:
        return self.expectation.startswith("day: ")

    def plain(self) -> str:
        """What failed, in words a person reads without knowing GX."""
        column = str(self.kwargs.get("column", ""))
        low, high = self.kwargs.get("min_value"), self.kwargs.get("max_value")
        bounds = _bounds(low, high)
        if self.is_day:
            value = self.observed
            if column.endswith("_null_share") and isinstance(value, float):
                return (
                    f"{column.removesuffix('_null_share')} missing for {value:.0%} of the "
                    f"day's rows (allowed: {_bounds(low, high, percent=True)})"
                )
            if column == "rows":
                return f"the day has {_short(value)} rows (expected {bounds})"
            if column.endswith("_mean"):
                name = column.removesuffix("_mean")
                return f"the day's mean {name} is {_short(value)} (expected {bounds})"
            return f"{column} is {_short(value)} (expected {bounds})"
        rows = f"{self.unexpected} of {self.checked} rows"
        sample = f", e.g. {', '.join(_short(v) for v in self.sample)}" if self.sample else ""
        kind = self.expectation.split("(", 1)[0]
        if kind.endswith("to_be_between"):
            return f"{rows}: {column} outside {bounds}{sample}"
        if kind.endswith("to_be_in_set"):
            return f"{rows}: {column} not one of {self.kwargs.get('value_set')}{sample}"
        if kind.endswith("not_be_null"):
            return f"{rows}: {column} missing"
        if kind.endswith("to_be_unique"):
            return f"{rows}: {column} repeated{sample}"
        if self.observed is not None and not self.sample:
            return f"{self.expectation}: {self.observed}"
        return f"{rows}: {self.expectation}{sample}"

    def __str__(self) -> str:
        return f"{self.plain()} [{self.severity}: {self.expectation}]"


def _bounds(low: Any, high: Any, percent: bool = False) -> str:
    def shown(value: Any) -> str:
        return f"{value:.0%}" if percent else _short(value)

    if low is None:
        return f"at most {shown(high)}"
    if high is None:
        return f"at least {shown(low)}"
    return f"{shown(low)}..{shown(high)}"


@dataclass
class Validation:
    suite: str
    partitions: list[str]
    failures: list[Failure]
    bad_rows: dict[Any, str]
    """Row index -> reason, for rows that failed a critical row expectation."""
    docs: Path | None = None

    def failures_of(self, partition: str) -> list[Failure]:
        return [f for f in self.failures if f.partition in (partition, None)]

    def severity_of(self, partition: str) -> str | None:
        """'critical' when the partition failed a critical expectation (its rows or the day),
        'warning' when only warning ones failed, None when every expectation passed."""
        failures = self.failures_of(partition)
        if any(f.severity == CRITICAL for f in failures):
            return CRITICAL
        return WARNING if failures else None

    def rejected_partitions(self) -> list[str]:
        """Partitions that failed a critical expectation as a whole (their profile)."""
        return [
            p
            for p in self.partitions
            if any(
                f.severity == CRITICAL and f.expectation.startswith("day:")
                for f in self.failures_of(p)
            )
        ]

    def summary(self, partition: str) -> str:
        failures = self.failures_of(partition)
        if not failures:
            return f"{self.suite}: every expectation passed"
        return "; ".join(str(f) for f in failures)


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if value.is_integer() else f"{value:.4g}"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def profile(frame: pd.DataFrame, partition_column: str | None, partitions: list[str]):
    """One row per partition: rows, and null share and mean of every column."""
    keys = (
        frame[partition_column].astype(str)
        if partition_column
        else pd.Series("all", index=frame.index)
    )
    grouped = frame.groupby(keys, sort=True)
    columns: dict[str, pd.Series] = {"rows": grouped.size()}
    for name in frame.columns:
        if name == partition_column or name.startswith("_"):
            continue
        columns[f"{name}_null_share"] = frame[name].isna().groupby(keys).mean()
        if pd.api.types.is_numeric_dtype(frame[name]) or pd.api.types.is_bool_dtype(frame[name]):
            # Through Float64: a nullable boolean's NA cannot become a numpy float directly.
            values = frame[name].astype("Float64").astype(float)
            columns[f"{name}_mean"] = values.groupby(keys).mean()
    table = pd.DataFrame(columns).reindex(partitions)
    table["rows"] = table["rows"].fillna(0).astype(int)
    return table.rename_axis(PARTITION).reset_index()


@cache
def _context(root: str):
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="file", project_root_dir=root)
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    site = context.list_data_docs_sites().get("local_site")
    if (
        site is not None
        and site.get("site_index_builder", {}).get("validation_results_limit") != 100
    ):
        # The index re-reads every stored result on each update; keep it to the latest 100.
        site.setdefault("site_index_builder", {})["validation_results_limit"] = 100
        context.update_data_docs_site("local_site", site)
    return context


def _signature(suite) -> list[dict]:
    return [e.dict(exclude={"id", "rendered_content", "meta", "notes"}) for e in suite.expectations]


def _checkpoint(context, name: str, expectations: tuple[Any, ...]):
    import great_expectations as gx
    from great_expectations.checkpoint import UpdateDataDocsAction
    from great_expectations.exceptions import DataContextError

    wanted = gx.ExpectationSuite(name=name, expectations=[e.copy() for e in expectations])
    try:
        suite = context.suites.get(name)
        if _signature(suite) != _signature(wanted):
            suite = context.suites.add_or_update(wanted)
    except DataContextError:
        suite = context.suites.add(wanted)
    try:
        source = context.data_sources.get("frames")
    except (LookupError, ValueError):
        source = context.data_sources.add_pandas(name="frames")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name=name)
    try:
        batch = asset.get_batch_definition("whole")
    except LookupError:
        batch = asset.add_batch_definition_whole_dataframe("whole")
    definition = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=name, data=batch, suite=suite)
    )
    return context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=name,
            validation_definitions=[definition],
            actions=[UpdateDataDocsAction(name="data_docs")],
            result_format={"result_format": "COMPLETE", "partial_unexpected_count": SAMPLE_SIZE},
        )
    )


def describe(config) -> str:
    kwargs = {k: v for k, v in config.kwargs.items() if k not in ("batch_id",)}
    column = kwargs.pop("column", None) or kwargs.pop("column_list", None)
    parts = [str(column)] if column else []
    for key in ("min_value", "max_value", "value_set", "mostly"):
        if key in kwargs and kwargs[key] is not None:
            value = kwargs[key]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            parts.append(f"{key}={value}")
    return f"{config.type}({', '.join(parts)})"


def _run(root: Path, name: str, expectations: tuple[Any, ...], frame: pd.DataFrame):
    context = _context(str(root))
    checkpoint = _checkpoint(context, name, expectations)
    result = checkpoint.run(batch_parameters={"dataframe": frame})
    ((key, validation),) = result.run_results.items()
    page = context.get_docs_sites_urls(resource_identifier=key)[0]["site_url"]
    return validation, Path(page.removeprefix("file://"))


def validate(
    root: Path,
    suite: Suite,
    frame: pd.DataFrame,
    partition_column: str | None,
    partitions: list[str] | None = None,
    usual_rows: float | None = None,
) -> Validation:
    """Validate `frame` (the rows of `partitions`) against `suite`; per-partition verdicts.
    For frames already in memory; a table or file DuckDB reads goes through
    `quality_sql.validate_sql`, which gives the same verdicts without the rows in pandas."""
    frame = frame.reset_index(drop=True)
    keys = frame[partition_column].astype(str) if partition_column else None
    if partitions is None:
        partitions = sorted(set(keys)) if keys is not None else ["all"]
    failures: list[Failure] = []
    bad_rows: dict[Any, str] = {}
    docs = None
    if suite.rows and len(frame):
        validation, docs = _run(root, f"{suite.name}.rows", suite.rows, frame)
        for item in validation.results:
            if item.success:
                continue
            config, result = item.expectation_config, item.result or {}
            severity, described = config.severity.value, describe(config)
            kwargs = dict(config.kwargs)
            indices = result.get("unexpected_index_list") or []
            if not indices and not result.get("unexpected_count"):
                failures.append(_exception_failure(described, severity, item, len(frame)))
                continue
            by_partition: dict[str, list[int]] = defaultdict(list)
            for index in indices:
                by_partition[keys[index] if keys is not None else "all"].append(index)
            column = config.kwargs.get("column")
            for partition, rows in sorted(by_partition.items()):
                sample = (
                    frame.loc[rows[:SAMPLE_SIZE], column].tolist()
                    if column in frame
                    else [frame.loc[i].to_dict() for i in rows[:2]]
                )
                checked = int((keys == partition).sum()) if keys is not None else len(frame)
                failures.append(
                    Failure(
                        described, severity, partition, len(rows), checked, sample, None, kwargs
                    )
                )
                if severity == CRITICAL:
                    reason = f"{column} outside its expectation: failed {described}"
                    for index in rows:
                        bad_rows.setdefault(index, reason)
    if suite.partitions:
        table = profile(frame, partition_column, partitions)
        add_rows_vs_usual(table, usual_rows)
        day_failures, page = validate_profile(root, suite, table)
        failures.extend(day_failures)
        docs = docs or page
    return Validation(suite.name, partitions, failures, bad_rows, docs)


def add_rows_vs_usual(table: pd.DataFrame, usual_rows: float | None) -> None:
    """The profile's `rows_vs_usual`: the partition's rows over the usual day's."""
    if usual_rows:
        table.insert(2, "rows_vs_usual", table["rows"] / usual_rows)


def validate_profile(root: Path, suite: Suite, table: pd.DataFrame) -> tuple[list, Path]:
    """The day expectations on the partitions' profile (one row per partition), by GX."""
    failures: list[Failure] = []
    validation, page = _run(root, f"{suite.name}.partitions", suite.partitions, table)
    for item in validation.results:
        if item.success:
            continue
        config, result = item.expectation_config, item.result or {}
        severity, described = config.severity.value, "day: " + describe(config)
        kwargs = dict(config.kwargs)
        indices = result.get("unexpected_index_list") or []
        column = config.kwargs.get("column")
        if not indices and not result.get("unexpected_count"):
            failures.append(_exception_failure(described, severity, item, len(table)))
            continue
        for index in indices:
            observed = table.loc[index, column] if column in table else None
            if isinstance(observed, float) and math.isnan(observed):
                observed = "unknown (the day has no rows)"
            day = str(table.loc[index, PARTITION])
            failures.append(Failure(described, severity, day, 1, 1, [], observed, kwargs))
    return failures, page


def _exception_failure(described: str, severity: str, item, checked: int) -> Failure:
    """An expectation that could not be evaluated (a missing column, say) fails the batch."""
    info = item.exception_info or {}
    errors = [info] if "raised_exception" in info else list(info.values())
    message = next(
        (
            e.get("exception_message")
            for e in errors
            if isinstance(e, dict) and e.get("raised_exception")
        ),
        None,
    )
    return Failure(described, severity, None, checked, checked, [], message or "not evaluated")
