"""How `make bench` measures a command: wall-clock seconds and the peak resident memory of its
whole process tree (dbt runs as a child), optionally under a time limit and an address-space
cap; the machine it ran on; and the stages of a `flightline run` read from its output."""

from __future__ import annotations

import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FLIGHTLINE = [sys.executable, "-m", "orchestration.cli"]


def median(values: list[float]) -> float:
    return statistics.median(values)


PAGE = os.sysconf("SC_PAGE_SIZE")


CONNECT_SERVER = b"org.apache.spark.sql.connect.service.SparkConnectServer"


def _tree_rss_mb(root: int) -> float:
    """Resident memory of `root` and all its descendants, and of the dbt fork server and
    the dbt processes it forks (orchestration/dbt_fork.py: the run's dbt invocations are
    its children, not the run's) and of the Spark engine's Connect server with its Python
    workers (ingest/spark_session.py), in MB."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    servers: dict[int, int] = {}  # dbt fork server (or a fork of it) -> its parent
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
            command = Path(f"/proc/{entry.name}/cmdline").read_bytes()
        except OSError:
            continue
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        rss[pid] = int(fields[21])
        if b"orchestration.dbt_fork\x00serve" in command or CONNECT_SERVER in command:
            servers[pid] = int(fields[1])
    # The servers themselves (their forks, the dbt processes, are counted below them).
    roots = [root, *(pid for pid, parent in servers.items() if parent not in servers)]
    total, stack = 0, roots
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


def measured(
    args: list[str],
    home: Path | None = None,
    timeout: float | None = None,
    memory_cap_gb: float | None = None,
    environment: dict[str, str] | None = None,
) -> Measured:
    env = {**os.environ, **(environment or {})}
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


STEP = re.compile(r"^\s+(\S+)\s+([0-9.]+)s$")


def _steps(out: str) -> dict[str, float]:
    steps: dict[str, float] = {}
    for line in out.splitlines():
        match = STEP.match(line)
        if match:
            steps[match.group(1)] = steps.get(match.group(1), 0.0) + float(match.group(2))
    return steps


def stages(out: str) -> dict[str, float]:
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
