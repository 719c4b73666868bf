"""`flightline replay --from D1 --to D2`: walk days as production would, through the same
planner as `flightline run` and the automation's daily_loop sensor.

Every evening D: the feeds of D land (actuals and weather of D, schedules and forecasts of
D + 1); the feature pipeline ingests them and builds the warehouse incrementally; the
scoring gate judges D + 1 and the inference pipeline scores it, rebuilds the evaluation (the
outcomes of D have arrived), measures drift and decides on retraining; when the decision
asks for it the planner starts a training run, which still has to pass the promotion gate;
a new champion re-scores D + 1. At the end a report goes to data/reports/.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

import pandas as pd

from ingest.catalog import LAST_DAY
from ingest.provider.export import export_feeds, load_source
from ingest.settings import Settings
from ingest.warehouse import connect
from ml.replay_report import (
    ReplayDay,
    daily_table,
    outcomes_with_and_without,
    plot,
    summary,
)
from orchestration.launcher import ready_launcher
from orchestration.run_report import read_warehouse
from orchestration.runner import RunOptions, run_plans


class ReplayError(Exception):
    """The replay cannot start or go on; the message says why."""


def _champion(settings: Settings) -> str | None:
    rows = read_warehouse(
        settings, "select model_version from ml.model_registry where status = 'champion'"
    )
    return rows[0][0] if rows else None


def replay(settings: Settings, start: date, end: date) -> int:
    if start > end:
        raise ReplayError(f"--from {start} is after --to {end}")
    if end > LAST_DAY:
        raise ReplayError(f"the feeds end on {LAST_DAY}; --to {end} is after it")
    first_champion = _champion(settings)
    if first_champion is None:
        raise ReplayError(
            f"no champion model in {settings.warehouse}: build the world up to the day before "
            f"({start - timedelta(days=1)}) and train first: flightline feeds export --until "
            f"{start - timedelta(days=1)} && flightline run"
        )
    started = time.perf_counter()
    began_at = datetime.now(UTC)
    launcher = ready_launcher(settings)
    source = load_source()
    days: list[ReplayDay] = []
    day = start
    while day <= end:
        day_started = time.perf_counter()
        print(f"\n=== evening of {day} ===")
        record = ReplayDay(day=day, seconds=0.0, champion="", scored="nothing to score")
        export_feeds(settings.landing, until=day, since=day, source=source)
        tomorrow = (day + timedelta(days=1)).isoformat()
        before = _champion(settings)
        # The evening's decisions are the planner's, as in the automation; only the scoring
        # is kept to tomorrow: today's flights were scored yesterday evening.
        options = RunOptions(scoring_range=(tomorrow, tomorrow), trigger="replay")
        _, launched = run_plans(settings, launcher, options)
        _record(record, launched, tomorrow, before != _champion(settings))
        record.champion = _champion(settings) or ""
        record.seconds = time.perf_counter() - day_started
        print(f"evening of {day}: {record.seconds:.1f}s, champion {record.champion}")
        days.append(record)
        day += timedelta(days=1)
    path = write_report(
        settings, start, end, days, first_champion, time.perf_counter() - started, began_at
    )
    print(f"\nreplay report: {path}")
    return 0


def _record(record: ReplayDay, launched, tomorrow: str, promoted: bool) -> None:
    """What the evening's runs did, for the report."""
    from orchestration.keys import FEATURE_JOB, INFERENCE_JOB, TRAINING_JOB

    record.scored = "nothing to score" if tomorrow > LAST_DAY.isoformat() else "not scored"
    for run in launched:
        job, window, ok = run.request.job, run.request.window, run.result.success
        if job == FEATURE_JOB and not ok:
            record.problems.append("the feature pipeline failed (the next evening redoes it)")
        elif tomorrow in run.held:
            record.scored = "blocked by the scoring gate"
        elif job == INFERENCE_JOB and window and window[0] <= tomorrow <= window[1]:
            record.scored = "scored" if ok else "failed"
            if not ok:
                record.problems.append(f"the inference pipeline failed for {tomorrow}")
        elif job == TRAINING_JOB:
            trigger = run.request.run_config["ops"]["ml__training_set"]["config"]["trigger"]
            record.retraining = f"{trigger} -> {'promoted' if promoted else 'kept the champion'}"
            if not promoted:
                record.problems.append("training did not produce a new champion")


def write_report(
    settings: Settings,
    start: date,
    end: date,
    days: list[ReplayDay],
    first_champion: str,
    seconds: float,
    began_at: datetime,
):

    from ml import registry

    # Not read-only: the registry's reader creates its table when missing. The replay is the
    # warehouse's one writer here anyway.
    con = connect(settings.warehouse)
    try:
        first = registry.get(con, first_champion)
        data = con
        if settings.engine == "spark":  # the outcomes and features are Spark's tables
            from ingest.spark_session import open_spark

            data = open_spark(settings)
        outcomes = outcomes_with_and_without(data, first, start, end)
        retrainings = con.execute(
            """
            select cutoff_date::varchar as cutoff, trigger, algorithm,
                round(validation_roc_auc, 4) as candidate_auc,
                round(champion_roc_auc_on_validation, 4) as champion_auc_same_window,
                decision, status
            from ml.model_registry
            where trained_at >= ?
            order by cutoff_date
            """,
            [began_at],
        ).df()
    finally:
        con.close()
    daily = daily_table(outcomes)
    marks = [
        (date.fromisoformat(row.cutoff), str(row.trigger).split(":")[0], row.decision == "promote")
        for row in retrainings.itertuples()
    ]
    settings.reports.mkdir(parents=True, exist_ok=True)
    stem = f"replay-{start}-{end}"
    (settings.reports / f"{stem}.png").write_bytes(plot(daily, marks))
    daily.to_csv(settings.reports / f"{stem}-daily.csv", index=False)
    text = summary(
        start, end, days, outcomes, daily, retrainings, first_champion, seconds, f"{stem}.png"
    )
    text += (
        "\n## Evenings\n\n"
        + pd.DataFrame(
            [
                {
                    "day": d.day,
                    "seconds": round(d.seconds, 1),
                    "next day": d.scored,
                    "retraining": d.retraining or "",
                    "champion": d.champion,
                }
                for d in days
            ]
        ).to_markdown(index=False)
        + "\n"
    )
    path = settings.reports / f"{stem}.md"
    path.write_text(text)
    return path
