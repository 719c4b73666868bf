"""What flightline commands print about runs and the warehouse: each run's steps and the
checks that did not pass, the days the scoring gate held, the champion's figures and the
warehouse's tables."""

from __future__ import annotations

from typing import TYPE_CHECKING

import duckdb

from ingest.catalog import LAST_DAY
from ingest.settings import Settings
from ingest.summary import quarantine_counts, table_counts
from ingest.warehouse import connect
from ml.monitoring import POOLED_AUC_SQL
from orchestration.keys import GATE_CHECK

if TYPE_CHECKING:
    from orchestration.runner import RunOptions


def read_warehouse(settings: Settings, sql: str, params: list | None = None) -> list[tuple]:
    if not settings.warehouse.exists():
        return []
    con = connect(settings.warehouse, read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()


def print_summary(settings: Settings, seconds: float) -> None:
    con = connect(settings.warehouse)
    try:
        counts = table_counts(con)
        quarantine = quarantine_counts(con)
    finally:
        con.close()
    if settings.engine == "spark":  # the models and predictions are Spark's tables
        from ingest import spark_session

        on_spark = spark_session.table_counts(settings)
        shown = {name for name, _ in on_spark}
        counts = [(name, rows) for name, rows in counts if name not in shown]
        counts += [(f"{name} (Spark)", rows) for name, rows in on_spark]
    width = max(len(name) for name, _ in counts) if counts else 10
    print("\nwarehouse", settings.warehouse)
    if settings.engine == "spark":
        print("and Spark's tables under", settings.spark)
    for name, rows in counts:
        print(f"  {name:<{width}}  {rows:>10,}")
    print(
        f"  quarantined: {quarantine['quarantined_rows']:,} rows, "
        f"{quarantine['quarantined_files']:,} files"
    )
    print(f"done in {seconds:.1f}s")


def print_model_report(settings: Settings, options: RunOptions) -> None:
    rows = read_warehouse(
        settings,
        """
        select model_version, algorithm, validation_roc_auc,
            metrics->>'baseline_roc_auc', validation_start::varchar, validation_end::varchar,
            cutoff_date::varchar
        from ml.model_registry where status = 'champion'
        """,
    )
    if not rows:
        return
    version, algorithm, validation_auc, baseline_auc, val_start, val_end, cutoff = rows[0]
    print(f"\nchampion {version} ({algorithm})")
    print(f"  validation ROC AUC    {validation_auc:.4f}  ({val_start} .. {val_end})")
    if baseline_auc is not None:
        print(f"  baseline ROC AUC      {float(baseline_auc):.4f}  (route delay rate, same window)")
    if options.score:
        start, end = options.scoring_range or (cutoff, LAST_DAY.isoformat())
        if settings.engine == "spark":  # the outcomes are Spark's, read from their files
            from ingest.spark_session import duckdb_over_spark

            con = duckdb_over_spark(settings)
            try:
                pooled = con.execute(POOLED_AUC_SQL, [version, start, end]).fetchall()
            except duckdb.CatalogException:  # nothing evaluated yet
                pooled = []
            finally:
                con.close()
        else:
            pooled = read_warehouse(settings, POOLED_AUC_SQL, [version, start, end])
        if pooled and pooled[0][0]:
            flights, auc = pooled[0]
            print(
                f"  out-of-time ROC AUC   {auc:.4f}  ({start} .. {end}, "
                f"{flights:,} flights with outcomes)"
            )


def report_steps(result) -> None:
    for event in result.all_events:
        if event.event_type_value == "STEP_SUCCESS":
            seconds = event.event_specific_data.duration_ms / 1000
            print(f"  {event.step_key:<32} {seconds:7.1f}s")
        elif event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            # The step error wraps the asset's own exception: show the cause, it says why.
            while error is not None and error.cause is not None:
                error = error.cause
            message = error.message.strip() if error else "(no message)"
            print(f"  FAILED {event.step_key}: {message}")
        elif event.event_type_value == "STEP_SKIPPED":
            print(f"  skipped {event.step_key} (an upstream blocking check did not pass)")


GATE = (GATE_CHECK.asset_key, GATE_CHECK.name)


def report_checks(result, gate: bool = True) -> None:
    """Name the checks that did not pass: warnings do not fail a run, but must be seen. One
    line per check: a check that failed on many days says how many, which, and one day's
    finding (every day's is on the check's page in the UI)."""
    failed: dict[tuple[str, str, str], list[tuple[str, str]]] = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        held = evaluation.severity.value == "ERROR"
        if (evaluation.asset_key, evaluation.check_name) == GATE and (held or not gate):
            continue  # the days the gate holds are reported as NOT SCORED
        if not evaluation.passed:
            key = (
                evaluation.severity.value.lower(),
                evaluation.asset_key.to_user_string(),
                evaluation.check_name,
            )
            failed.setdefault(key, []).append(
                (evaluation.partition or "", evaluation.description or "")
            )
    for (severity, asset, check), days in failed.items():
        (first, finding), count = days[0], len(days)
        if count == 1:
            where = f" [{first}]" if first else ""
            print(f"  check did not pass ({severity}): {asset} {check}{where}" + _said(finding))
            continue
        listed = ", ".join(day for day, _ in days[:3]) + (", ..." if count > 3 else "")
        print(
            f"  check did not pass ({severity}) on {count} days: {asset} {check} ({listed}; "
            f"each day's finding on its check page in the UI)"
            + _said(f"{first}: {finding}" if finding else "")
        )


def _said(finding: str, limit: int = 160) -> str:
    if not finding:
        return ""
    return ": " + (finding if len(finding) <= limit else finding[: limit - 3] + "...")


def gated_days(result) -> dict[str, str]:
    """Days the scoring gate failed (error) in a run, with why."""
    gated = {}
    for event in result.all_events:
        if event.event_type_value != "ASSET_CHECK_EVALUATION":
            continue
        evaluation = event.event_specific_data
        key = (evaluation.asset_key, evaluation.check_name)
        if key == GATE and not evaluation.passed and evaluation.severity.value == "ERROR":
            gated[evaluation.partition] = evaluation.description or ""
    return gated
