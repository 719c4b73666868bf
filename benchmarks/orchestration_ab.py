"""`flightline run` and `flightline replay` of two checkouts, A/B, alternating in one run.

    git worktree add /tmp/before <commit>
    .venv/bin/python benchmarks/orchestration_ab.py /tmp/before . [--repeats 3]

- cold: a whole 2013 year, from landed files to the published snapshot, in a new data
  directory each time (the files exported once and copied in);
- evening: a world built to 2013-06-29 with a champion (cutoff 06-30, a week of
  validation), then `repeats` evenings replayed; each evening's seconds as the replay
  prints them.

Both checkouts run in this environment (.venv), each from its own directory. Medians, and
the ratio after / before: the machine's speed moves by ~15% within an hour, so a change is
judged against the other checkout in the same run.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

CLI = (
    "import sys; sys.path.insert(0, sys.argv[1]); from orchestration.cli import main; "
    "sys.exit(main(sys.argv[2:]))"
)
EVENING = re.compile(r"^evening of (\S+): ([0-9.]+)s", re.MULTILINE)


def flightline(checkout: Path, home: Path, *args: str) -> tuple[float, str]:
    env = {"PATH": "/usr/bin:/bin", "FLIGHTLINE_HOME": str(home), "HOME": str(home)}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", CLI, str(checkout), *args],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{checkout}: flightline {' '.join(args)} failed:\n{done.stdout[-3000:]}")
    return seconds, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", choices=["cold", "evening"], help="one of the two measures")
    args = parser.parse_args()
    sys.path.insert(0, str(args.after.resolve()))
    from ingest.provider.export import export_feeds

    checkouts = {"before": args.before.resolve(), "after": args.after.resolve()}
    cold: dict[str, list[float]] = {name: [] for name in checkouts}
    evenings: dict[str, list[float]] = {name: [] for name in checkouts}
    with tempfile.TemporaryDirectory() as scratch:
        year = Path(scratch) / "year"
        export_feeds(year)
        for repeat in range(args.repeats if args.only != "evening" else 0):
            for name, checkout in checkouts.items():
                home = Path(scratch) / f"{name}-{repeat}"
                shutil.copytree(year, home / "landing")
                seconds, _ = flightline(checkout, home, "run", "--no-export")
                cold[name].append(seconds)
                shutil.rmtree(home)
                print(f"cold year, {name}: {seconds:.1f}s", flush=True)
        for name, checkout in checkouts.items() if args.only != "cold" else ():
            home = Path(scratch) / f"{name}-evenings"
            export_feeds(home / "landing", until=date(2013, 6, 29))
            flightline(
                checkout,
                home,
                "run",
                "--no-export",
                "--cutoff=2013-06-30",
                "--validation-days=7",
                "--score-from=2013-06-30",
                "--score-to=2013-06-30",
            )
            last = date(2013, 6, 29) + timedelta(days=args.repeats)
            _, out = flightline(checkout, home, "replay", "--from", "2013-06-30", "--to", str(last))
            evenings[name] = [float(s) for _, s in EVENING.findall(out)]
            print(f"evenings, {name}: {evenings[name]}", flush=True)
            shutil.rmtree(home)
    report = {}
    print("\n| measure | before | after | after / before |\n|---|---|---|---|")
    for label, runs in (("cold 2013 year, s", cold), ("one evening (day 181), s", evenings)):
        if not runs["before"]:
            continue
        before, after = statistics.median(runs["before"]), statistics.median(runs["after"])
        report[label] = {"before": runs["before"], "after": runs["after"]}
        print(f"| {label} | {before:.1f} | {after:.1f} | {after / before:.2f} |")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
