"""The loader of two checkouts, A/B, on the same landed year, alternating in fresh processes.

    git worktree add /tmp/before <commit>
    .venv/bin/python benchmarks/loader_ab.py /tmp/before . [--repeats 7]

Each repeat loads a year of schedules + actuals (730 CSV files) into a new warehouse with
each checkout's loader, then reads the same files with DuckDB's read_csv (types declared,
the ingest goal's reference), and prints the medians. A change's cost is judged against the
other checkout in the same run, not against BENCHMARKS.md: this machine's speed moves by
~15% within an hour.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ONE_LOAD = r"""
import json, sys, time
sys.path.insert(0, sys.argv[1])
from pathlib import Path
import duckdb
from ingest.catalog import FEEDS_BY_NAME
try:
    from ingest.warehouse import connect
except ImportError:  # before the warehouse module existed
    from ingest.loader import connect
try:
    from ingest.load.loader import Loader
except ImportError:  # before the loader was a package (ingest/load/)
    from ingest.loader import Loader
landing, scratch = Path(sys.argv[2]), Path(sys.argv[3])
con = connect(scratch / "warehouse.duckdb")
loader = Loader(con, landing, scratch / "quarantine")
started = time.perf_counter()
for feed in ("schedules", "actuals"):
    loader.load(FEEDS_BY_NAME[feed])
loaded = time.perf_counter() - started
con.close()
ref = duckdb.connect(str(scratch / "reference.duckdb"))
started = time.perf_counter()
for feed in ("schedules", "actuals"):
    files = [str(p) for p in sorted((landing / feed).glob("*.csv"))]
    types = {c.name: c.type for c in FEEDS_BY_NAME[feed].columns}
    ref.execute(f"create table {feed} as select * from read_csv(?, header=true, "
                "auto_detect=false, columns=?)", [files, types])
reference = time.perf_counter() - started
print(json.dumps({"loader": loaded, "reference": reference}))
"""


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        landing = Path(work) / "landing"
        sys.path.insert(0, str(args.after.resolve()))
        from ingest.provider.export import export_feeds

        export_feeds(landing)
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for repeat in range(args.repeats):
            for name in ("before", "after"):
                scratch = Path(work) / f"{name}-{repeat}"
                scratch.mkdir()
                out = subprocess.run(
                    [
                        sys.executable,
                        "-c",
                        ONE_LOAD,
                        str(getattr(args, name).resolve()),
                        str(landing),
                        str(scratch),
                    ],
                    capture_output=True,
                    text=True,
                    check=True,
                )
                runs[name].append(json.loads(out.stdout))
    print("| checkout | loader, median s | read_csv declared, median s | loader / reference |")
    print("|---|---|---|---|")
    for name, results in runs.items():
        loader = statistics.median(r["loader"] for r in results)
        reference = statistics.median(r["reference"] for r in results)
        print(
            f"| {name} ({getattr(args, name)}) | {loader:.3f} | {reference:.3f} | "
            f"{reference / loader:.0%} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
