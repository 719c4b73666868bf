"""BENCHMARKS.md from a `make bench` report (the dict benchmarks/run.py writes as
BENCHMARKS.json): the goals met or not, then a table per section measured."""

from __future__ import annotations

from datetime import date
from pathlib import Path


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _runs(runs: list[float] | None) -> str:
    """A section title's tail: one run, or the median of several and each run."""
    if not runs or len(runs) == 1:
        return " (one run)"
    return f" (median of {len(runs)}: {', '.join(f'{s:.1f}' for s in runs)} s)"


def _recorded_line(cold: dict) -> str:
    """The recorded inputs of the median cold run (issue 21's goal: at most 10% of it)."""
    recorded = cold.get("recorded")
    if not recorded:
        return ""
    share = recorded["seconds"] / cold["seconds"]
    return (
        f" Its recorded inputs (`flightline debug`, docs/debugging.md): {recorded['steps']} "
        f"steps, {recorded['mb']:.1f} MB, {recorded['seconds']:.1f} s of the run's "
        f"{cold['seconds']:.0f} s ({share:.1%}; goal: at most 10%)."
    )


def _stages_section(title: str, measured: dict, text: str, stages: str) -> list[str]:
    """A section of one measured pipeline: its title and runs, a sentence, and its stages
    (the seconds in `measured[stages]`)."""
    lines = ["", f"## {title}{_runs(measured.get('runs'))}", "", text, ""]
    rows = [[k, f"{v:.1f}"] for k, v in measured[stages].items()]
    return lines + _table(["stage", "s"], rows)


def _pandas_cell(reference: dict) -> tuple[str, str]:
    if not reference.get("finished", True):
        return f"> {reference['seconds']:.0f} ({reference['why']})", f"{reference['peak_mb']:,.0f}"
    return f"{reference['seconds']['total']:.0f}", f"{reference['peak_mb']:,.0f}"


# Issue 19's goals, and where they started (the issue's own figures, 2026-12-01).
COLD_GOAL_S, EVENING_GOAL_S = 45, 10
COLD_BEFORE, EVENING_BEFORE = "77-125 s", "18-20 s"


def _goals(report: dict) -> list[list[str]]:
    rows = []
    if "cold" in report:
        cold, pandas = report["cold"], report.get("pandas", {})
        reference = (
            f"; pandas reference {pandas['seconds']['total']:.0f} s" if "seconds" in pandas else ""
        )
        rows.append(
            [
                f"the cold 2013 year at most {COLD_GOAL_S} s (it was {COLD_BEFORE})",
                f"{cold['seconds']:.0f} s{_runs(cold.get('runs'))}{reference}",
                "yes" if cold["seconds"] <= COLD_GOAL_S else "no",
            ]
        )
    if "increment" in report:
        last = report["increment"][-1]
        rows.append(
            [
                f"an evening at most {EVENING_GOAL_S} s (it was {EVENING_BEFORE})",
                f"{last['seconds']:.1f} s after {last['history_days']} days (median of "
                f"{len(last['runs'])})",
                "yes" if last["seconds"] <= EVENING_GOAL_S else "no",
            ]
        )
    if "increment" in report:
        first, last = report["increment"][0], report["increment"][-1]
        ratio = last["seconds"] / first["seconds"]
        rows.append(
            [
                f"an evening after {last['history_days']} days within 1.2x of one after "
                f"{first['history_days']}",
                f"{ratio:.2f}x ({last['seconds']:.1f} s / {first['seconds']:.1f} s)",
                "yes" if ratio <= 1.2 else "no",
            ]
        )
    if "ingest" in report:
        ratio = {r["key"]: r["ratio"] for r in report["ingest"]}
        for reference, described in (
            ("sniffed", "read_csv as usually written (types sniffed per file)"),
            ("declared", "read_csv with the feeds' types declared (the goal's reference)"),
            (
                "unordered",
                "read_csv with the types declared, the rows kept in no order (DuckDB's "
                "fastest read)",
            ),
        ):
            if reference not in ratio:
                continue
            plain, checked = (ratio[k] / ratio[reference] for k in ("plain", "checked"))
            rows.append(
                [
                    f"ingest (exactly-once + quarantine) at least 80% of {described}",
                    f"{plain:.0%} ({checked:.0%} with the expectation suites too)",
                    "yes" if plain >= 0.8 else "no",
                ]
            )
    for r in report.get("scale", []):
        if r["flights"] == 30_000_000:
            rows.append(
                [
                    "30M flights end to end under 8 GB peak memory",
                    f"{r['peak_mb'] / 1024:.1f} GB, {r['seconds'] / 60:.0f} min",
                    "yes" if r["peak_mb"] < 8192 else "no",
                ]
            )
        if r["flights"] >= 10_000_000:
            reference = r["pandas"]
            if reference.get("finished", True):
                total = reference["seconds"]["total"]
                verdict = "yes" if total > r["seconds"] else "no"
                measured = f"pandas {total:.0f} s, flightline {r['seconds']:.0f} s"
            else:
                verdict = "yes"
                measured = (
                    f"pandas did not finish ({reference['why']}), flightline {r['seconds']:.0f} s"
                )
            rows.append(
                [f"faster than the pandas reference at {r['flights']:,}", measured, verdict]
            )
    return rows


def write(path: Path, report: dict) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {date.today()} ({'; '.join(report['commands'])}).",
        "",
        "Peak memory is the whole process tree's resident memory (flightline and the dbt it",
        "starts), sampled every 0.2 s. Every timing is wall-clock seconds. Medians where a",
        "row says so, else one run: a full build is minutes to an hour.",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in report["machine"].items()]
    if report.get("notes"):
        lines += ["", "## Notes on these runs", ""]
        lines += [f"- {note}" for note in report["notes"]]
    lines += ["", "## Goals", ""]
    lines += _table(["goal", "measured", "met"], _goals(report))
    if "ingest" in report:
        lines += [
            "",
            f"## Ingest: a year of schedules and actuals ({report['ingest_rows']:,} rows, "
            "730 CSV files), median of the repeats",
            "",
        ]
        lines += _table(
            ["", "median s", "rows/s", "ratio to the reference"],
            [
                [r["what"], f"{r['seconds']:.2f}", f"{r['rows_per_s']:,.0f}", f"{r['ratio']:.2f}"]
                for r in report["ingest"]
            ],
        )
    if "scoring" in report:
        lines += ["", "## Scoring the last quarter, median of the repeats", ""]
        lines += _table(
            ["", "median s", "rows/s", "ratio"],
            [
                [r["what"], f"{r['seconds']:.2f}", f"{r['rows_per_s']:,.0f}", f"{r['ratio']:.2f}"]
                for r in report["scoring"]
            ],
        )
    if "increment" in report:
        increments = report["increment"]
        lines += [
            "",
            "## An evening's increment as history grows",
            "",
            "`flightline replay` evenings on a world built to day H with a champion trained on "
            "it: land the day, ingest, dbt, score tomorrow, evaluate, drift, the retraining "
            "decision. Each evening's own seconds (the process start-up, once per command, is "
            "left out); median of the repeats.",
            "",
        ]
        lines += _table(
            ["history (days)", "median s", "runs"],
            [
                [
                    str(r["history_days"]),
                    f"{r['seconds']:.1f}",
                    ", ".join(f"{s:.1f}" for s in r["runs"]),
                ]
                for r in increments
            ],
        )
        first, last = increments[0], increments[-1]
        lines += [
            "",
            f"Ratio day-{last['history_days']} / day-{first['history_days']}: "
            f"{last['seconds'] / first['seconds']:.2f} (goal: at most 1.2).",
        ]
    if "cold" in report:
        cold = report["cold"]
        text = (
            f"`flightline run` on an empty data directory: {cold['seconds']:.0f} s, peak memory "
            f"{cold['peak_mb']:,.0f} MB. Stages are the sums of their Dagster steps; the rest "
            "is start-up, Dagster's run bookkeeping and the feed export." + _recorded_line(cold)
        )
        lines += _stages_section("The 2013 year, cold, end to end", cold, text, "stages")
    if "pandas" in report:
        pandas = report["pandas"]
        text = (
            f"benchmarks/pandas_reference.py: {pandas['seconds']['total']:.0f} s, peak memory "
            f"{pandas['peak_mb']:,.0f} MB, {pandas['rows']:,} rows, Q4 ROC AUC "
            f"{pandas['roc_auc']:.4f}."
        )
        title = "Plain-pandas reference on the same 2013 feeds"
        lines += _stages_section(title, pandas, text, "seconds")
    if "scale" in report:
        lines += [
            "",
            "## Synthetic years: full build against the pandas reference (one run each)",
            "",
            "`flightline feeds synth --flights N`, then `flightline run` (ingest with the "
            "suites, dbt build and tests, training, scoring Oct-Dec, monitoring, publish) and "
            "benchmarks/pandas_reference.py on the same files.",
            "",
        ]
        rows = []
        for r in report["scale"]:
            seconds, peak = _pandas_cell(r["pandas"])
            pandas_total = r["pandas"]["seconds"]
            pandas_total = pandas_total["total"] if isinstance(pandas_total, dict) else None
            ratio = f"{pandas_total / r['seconds']:.2f}" if pandas_total else "n/a"
            rows.append(
                [
                    f"{r['flights']:,}",
                    f"{r['seconds']:.0f}",
                    f"{r['peak_mb']:,.0f}",
                    seconds,
                    peak,
                    ratio,
                    ", ".join(f"{k.split(' ')[0]} {v:.0f}" for k, v in r["stages"].items()),
                ]
            )
        lines += _table(
            [
                "flights",
                "flightline s",
                "flightline peak MB",
                "pandas s",
                "pandas peak MB",
                "pandas s / flightline s",
                "flightline stages (s)",
            ],
            rows,
        )
    if "spark" in report:
        lines += _spark_section(report["spark"])
    if "serve" in report:
        from benchmarks.serving import serve_section

        lines += serve_section(report["serve"])
    path.write_text("\n".join(lines) + "\n")


def _spark_section(spark: dict) -> list[str]:
    """Issue 20: the same pipelines on DuckDB and on local Spark (docs/spark.md)."""
    month = spark["month"]
    lines = [
        "",
        "## The Spark engine against DuckDB, same machine, same run (one run each)",
        "",
        "January 2013 (the real feeds), built, trained (cutoff 2013-01-22, 7 validation days) "
        "and scored (22nd to 31st) by `flightline run` on each engine, each table compared "
        "row for row (an md5 over every column, floats to 1e-9; the predictions without "
        "`scored_at`): "
        + ", ".join(
            f"{t['table']} {t['rows']:,} rows {'equal' if t['equal'] else 'DIFFERENT'}"
            for t in month["tables"]
        )
        + ". Seconds: "
        + ", ".join(f"{engine} {r['seconds']:.0f}" for engine, r in month["engines"].items())
        + ".",
        "",
    ]
    rows = []
    for r in spark["years"]:
        for engine in ("duckdb", "spark"):
            run = r[engine]
            rows.append(
                [
                    f"{r['flights']:,}",
                    engine,
                    f"{run['seconds']:.0f}",
                    f"{run['seconds'] / r['duckdb']['seconds']:.2f}",
                    f"{run['peak_mb']:,.0f}",
                    ", ".join(f"{k.split(' ')[0]} {v:.0f}" for k, v in run["stages"].items()),
                ]
            )
    lines += _table(["flights", "engine", "s", "ratio to DuckDB", "peak MB", "stages (s)"], rows)
    if spark["years"]:
        lines += _sizing(max(spark["years"], key=lambda r: r["flights"]))
    return lines


SIZING_FLIGHTS = 1_000_000_000
EXECUTORS, EXECUTOR_CORES, EFFICIENCY = 50, 4, 0.5


def _sizing(measured: dict) -> list[str]:
    """1B flights on a cluster, on paper: each Spark stage's local seconds, as core-seconds
    (2 local cores, all busy), grown linearly with the flights, spread over the executors at
    EFFICIENCY (shuffles, skewed keys, stragglers)."""
    flights, stages = measured["flights"], measured["spark"]["stages"]
    scale = SIZING_FLIGHTS / flights
    cores = EXECUTORS * EXECUTOR_CORES
    rows = []
    for stage, note in (
        ("dbt (build and its tests)", "staging, marts, features: shuffles by date and key"),
        ("scoring", "mapInPandas: rows per core, no shuffle; a night scores one day"),
        (
            "monitoring",
            "drift reads a sample a day; the retraining decision's pooled ROC AUC ranks a "
            "week's outcomes in one task (a night's week: ~2M rows)",
        ),
    ):
        local = stages.get(stage, 0.0)
        core_seconds = local * 2 * scale
        hours = core_seconds / (cores * EFFICIENCY) / 3600
        rows.append(
            [
                stage.split(" ")[0],
                f"{local:.0f}",
                f"{core_seconds / 3600:,.0f}",
                f"{hours:.2f}",
                note,
            ]
        )
    return [
        "",
        f"### 1B flights on a cluster, on paper (from the {flights:,}-flight run on Spark)",
        "",
        f"{EXECUTORS} executors x {EXECUTOR_CORES} cores x 16 GB ({cores} cores, 4 GB each for "
        "the shuffles of the rolling windows), a driver of 8 cores / 32 GB (the training "
        f"sample is collected there); {EFFICIENCY:.0%} parallel efficiency (shuffles, skewed "
        "keys: a hub airport's or a large carrier's day, stragglers). "
        "A backfill of the whole history, once; each night after it rebuilds only its window.",
        "",
        *_table(
            [
                "stage",
                f"local s at {flights:,}",
                "core-hours at 1B",
                "hours on the cluster",
                "why it scales so",
            ],
            rows,
        ),
        "",
        "The local seconds include each process's fixed start-up (a JVM and a Spark session, "
        "~15-20 s a dbt invocation), grown here with the flights as if it were work: the "
        "hours are an upper bound. Not in the table: ingest is the DuckDB loader on one machine (a backfill of 1B rows "
        "is its own job, at the ingest section's rows/s per process, run per month in "
        "parallel pods; a night lands one day), and training reads a sample of at most "
        "`max_training_rows` (a fixed cost on the driver, whatever the history).",
    ]
