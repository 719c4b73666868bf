"""`make bench`: measure flightline against references in the same run, write BENCHMARKS.md.

Every figure is the median of repeated runs (`--repeats`, default 3) unless its row says
otherwise, next to a reference measured in the same run on the same files:
- ingest: the loader (exactly-once, quarantine, with and without the expectation suites)
  against DuckDB reading the same CSV files straight into a table;
- scoring: `ml.scoring.score_days` over the last quarter against the bare fitted model's
  `predict_proba` on the same rows;
- the one-day increment after 30, 180 and 365 days of history (`flightline run` after one
  more day landed);
- the cold year end to end (`make run`'s pipeline on an empty data directory), per stage,
  with peak memory; and the plain-pandas reference (benchmarks/pandas_reference.py) on the
  same feeds.

    python benchmarks/run.py [--repeats 3] [--only ingest,scoring,increment,cold]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FLIGHTLINE = [sys.executable, "-m", "orchestration.cli"]


def _median(values: list[float]) -> float:
    return statistics.median(values)


def _run(args: list[str], home: Path) -> tuple[float, float, str]:
    """Seconds, peak RSS (MB) of the process tree's largest process, and stdout."""
    env = {**os.environ, "FLIGHTLINE_HOME": str(home)}
    env.pop("DAGSTER_HOME", None)
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, cwd=REPO, stdout=subprocess.PIPE, text=True)
    out = process.stdout.read()
    # wait4, not wait: the child's own resource usage, whose ru_maxrss is the largest
    # resident set among it and the processes it waited for (dbt runs as its child).
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({process.returncode}):\n{out[-3000:]}")
    return seconds, usage.ru_maxrss / 1024, out


def machine() -> dict[str, str]:
    from importlib.metadata import version

    memory = Path("/proc/meminfo").read_text().split("\n")[0].split()[1]
    return {
        "cpus": str(os.cpu_count()),
        "memory": f"{int(memory) / 1024 / 1024:.0f} GB",
        "python": platform.python_version(),
        "platform": platform.platform(),
        **{
            name: version(name)
            for name in (
                "duckdb",
                "dbt-core",
                "dbt-duckdb",
                "dagster",
                "dagster-dbt",
                "pandas",
                "scikit-learn",
                "great-expectations",
            )
        },
    }


def bench_ingest(work: Path, repeats: int) -> list[dict]:
    import duckdb

    from ingest.catalog import FEEDS_BY_NAME
    from ingest.feeds import export_feeds
    from ingest.loader import Loader, connect

    landing = work / "ingest-landing"
    export_feeds(landing)
    files = sorted((landing / "schedules").glob("*.csv")) + sorted(
        (landing / "actuals").glob("*.csv")
    )
    rows = 0
    raw, plain, checked = [], [], []
    for attempt in range(repeats):
        con = duckdb.connect(str(work / f"raw-{attempt}.duckdb"))
        started = time.perf_counter()
        for feed in ("schedules", "actuals"):
            paths = [str(p) for p in files if p.parent.name == feed]
            con.execute(f"create table {feed} as select * from read_csv({paths}, header=true)")
        raw.append(time.perf_counter() - started)
        rows = sum(
            con.execute(f"select count(*) from {f}").fetchone()[0] for f in ("schedules", "actuals")
        )
        con.close()
        for label, quality, sink in (
            ("plain", None, plain),
            ("checked", work / "quality", checked),
        ):
            con = connect(work / f"loader-{label}-{attempt}.duckdb")
            loader = Loader(con, landing, work / "quarantine", quality=quality)
            started = time.perf_counter()
            for feed in ("schedules", "actuals"):
                loader.load(FEEDS_BY_NAME[feed])
            sink.append(time.perf_counter() - started)
            con.close()
    reference = rows / _median(raw)
    return [
        {
            "what": "DuckDB read_csv into a table (reference)",
            "seconds": _median(raw),
            "rows_per_s": reference,
            "ratio": 1.0,
        },
        {
            "what": "loader, exactly-once + quarantine",
            "seconds": _median(plain),
            "rows_per_s": rows / _median(plain),
            "ratio": rows / _median(plain) / reference,
        },
        {
            "what": "loader + expectation suites (GX)",
            "seconds": _median(checked),
            "rows_per_s": rows / _median(checked),
            "ratio": rows / _median(checked) / reference,
        },
    ]


def bench_scoring(home: Path, repeats: int) -> list[dict]:
    import duckdb

    from ml import registry
    from ml.features import FEATURES, read_features
    from ml.scoring import score_days

    con = duckdb.connect(str(home / "warehouse" / "warehouse.duckdb"))
    model = registry.require_champion(con)
    days = [
        d
        for (d,) in con.execute(
            "select distinct flight_date::varchar from features.flight_features where flight_date >= '2013-10-01' order by 1"
        ).fetchall()
    ]
    estimator = model.load()
    bare, product = [], []
    rows = 0
    for _ in range(repeats):
        frame = read_features(con, days[0], days[-1])
        rows = len(frame)
        started = time.perf_counter()
        estimator.predict_proba(frame[FEATURES])
        bare.append(time.perf_counter() - started)
        started = time.perf_counter()
        score_days(con, model, days)
        product.append(time.perf_counter() - started)
    con.close()
    reference = rows / _median(bare)
    return [
        {
            "what": "predict_proba on the rows in memory (reference)",
            "seconds": _median(bare),
            "rows_per_s": reference,
            "ratio": 1.0,
        },
        {
            "what": "score_days: read features, score, replace the days",
            "seconds": _median(product),
            "rows_per_s": rows / _median(product),
            "ratio": rows / _median(product) / reference,
        },
    ]


STEP = re.compile(r"^\s+(\S+)\s+([0-9.]+)s$")


def _steps(out: str) -> dict[str, float]:
    steps: dict[str, float] = {}
    for line in out.splitlines():
        match = STEP.match(line)
        if match:
            steps[match.group(1)] = steps.get(match.group(1), 0.0) + float(match.group(2))
    return steps


def bench_cold(work: Path) -> tuple[dict, Path]:
    home = work / "cold"
    seconds, peak, out = _run([*FLIGHTLINE, "run"], home)
    steps = _steps(out)
    stages = {
        "ingest": sum(v for k, v in steps.items() if k.startswith("ingest_")),
        "dbt (build and its tests)": sum(v for k, v in steps.items() if k.startswith("dbt_")),
        "checks (expectations, gates)": sum(
            v
            for k, v in steps.items()
            if "ready_to_score" in k or k.endswith(("_expectations", "_beats_champion", "_twice"))
        ),
        "training": sum(
            v
            for k, v in steps.items()
            if k in ("ml__training_set", "ml__candidate_model", "ml__champion_model")
        ),
        "scoring": steps.get("ml__predictions", 0.0),
        "monitoring": sum(
            v for k, v in steps.items() if k in ("ml__feature_drift", "ml__retraining_decision")
        ),
    }
    published = re.search(r"analysts' snapshot .* in ([0-9.]+)s", out)
    stages["publish"] = float(published.group(1)) if published else 0.0
    return {"seconds": seconds, "peak_mb": peak, "stages": stages}, home


def bench_pandas(landing: Path) -> dict:
    out = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "pandas_reference.py"), str(landing)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def bench_increment(work: Path, repeats: int) -> list[dict]:
    """One world that grows: for each history length H, build to H days, then time `repeats`
    one-day increments (each lands one more day and runs the pipeline, no training)."""
    from ingest.feeds import FIRST_DAY, export_feeds, load_source

    home = work / "increment"
    source = load_source()
    results = []
    for history in (30, 180, 365 - repeats):
        until = FIRST_DAY + timedelta(days=history - 1)
        export_feeds(home / "landing", until=until, source=source)
        _run([*FLIGHTLINE, "run", "--no-train", "--no-export"], home)
        times = []
        for step in range(1, repeats + 1):
            day = until + timedelta(days=step)
            export_feeds(home / "landing", until=day, since=day, source=source)
            seconds, _, _ = _run([*FLIGHTLINE, "run", "--no-train", "--no-export"], home)
            times.append(seconds)
        results.append(
            {"history_days": history + repeats, "seconds": _median(times), "runs": times}
        )
    return results


def write(path: Path, report: dict) -> None:
    lines = [
        "# Benchmarks",
        "",
        f"Written by `make bench` on {date.today()}.",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {k}: {v}" for k, v in report["machine"].items()]
    if "ingest" in report:
        lines += [
            "",
            "## Ingest: a year of schedules and actuals (673,552 rows, 730 CSV files)",
            "",
            "| | median s | rows/s | ratio to DuckDB |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['what']} | {r['seconds']:.2f} | {r['rows_per_s']:,.0f} | {r['ratio']:.2f} |"
            for r in report["ingest"]
        ]
    if "scoring" in report:
        lines += [
            "",
            "## Scoring the last quarter",
            "",
            "| | median s | rows/s | ratio |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {r['what']} | {r['seconds']:.2f} | {r['rows_per_s']:,.0f} | {r['ratio']:.2f} |"
            for r in report["scoring"]
        ]
    if "increment" in report:
        lines += [
            "",
            "## One-day increment as history grows",
            "",
            "| history (days) | median s | runs |",
            "|---|---|---|",
        ]
        lines += [
            f"| {r['history_days']} | {r['seconds']:.1f} | {', '.join(f'{s:.1f}' for s in r['runs'])} |"
            for r in report["increment"]
        ]
        first, last = report["increment"][0]["seconds"], report["increment"][-1]["seconds"]
        lines += [
            "",
            f"Ratio day-{report['increment'][-1]['history_days']} / day-{report['increment'][0]['history_days']}: {last / first:.2f} (goal: at most 1.2).",
        ]
    if "cold" in report:
        cold = report["cold"]
        lines += [
            "",
            "## The 2013 year, cold, end to end (one run)",
            "",
            f"`flightline run` on an empty data directory: {cold['seconds']:.0f} s, peak memory {cold['peak_mb']:,.0f} MB.",
            "",
            "| stage | s |",
            "|---|---|",
        ]
        lines += [f"| {k} | {v:.1f} |" for k, v in cold["stages"].items()]
    if "pandas" in report:
        pandas = report["pandas"]
        lines += [
            "",
            "## Plain-pandas reference on the same feeds (one run)",
            "",
            f"benchmarks/pandas_reference.py: {pandas['seconds']['total']:.0f} s, peak memory {pandas['peak_mb']:,} MB, {pandas['rows']:,} rows, Q4 ROC AUC {pandas['roc_auc']:.4f}.",
            "",
            "| stage | s |",
            "|---|---|",
        ]
        lines += [f"| {k} | {v:.1f} |" for k, v in pandas["seconds"].items()]
    path.write_text("\n".join(lines) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="ingest,cold,scoring,pandas,increment")
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    args = parser.parse_args()
    wanted = set(args.only.split(","))
    report: dict = {"machine": machine()}
    with tempfile.TemporaryDirectory(prefix="flightline-bench-") as tmp:
        work = Path(tmp)
        if "ingest" in wanted:
            report["ingest"] = bench_ingest(work, args.repeats)
            print(json.dumps(report["ingest"]), flush=True)
        if wanted & {"cold", "scoring", "pandas"}:
            report["cold"], home = bench_cold(work)
            print(json.dumps(report["cold"]), flush=True)
            if "scoring" in wanted:
                report["scoring"] = bench_scoring(home, args.repeats)
                print(json.dumps(report["scoring"]), flush=True)
            if "pandas" in wanted:
                report["pandas"] = bench_pandas(home / "landing")
                print(json.dumps(report["pandas"]), flush=True)
        if "increment" in wanted:
            report["increment"] = bench_increment(work, args.repeats)
            print(json.dumps(report["increment"]), flush=True)
    write(args.output, report)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
