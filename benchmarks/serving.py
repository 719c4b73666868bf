"""`make bench`'s serve section: `flightline serve` on the cold year's snapshot, loaded on
loopback by wrk, beside the batch pipeline's cost per flight measured in the same run; and
every Q4 flight scored through the endpoint, compared with the batch pipeline's score."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

from benchmarks.measure import FLIGHTLINE, median

LOADS = (  # (what, route, flights, connections, workers)
    ("one flight of the last week, 1 connection", "one", "recent", 1, 1),
    ("one flight of the last week, 4 connections", "one", "recent", 4, 1),
    ("one older Q4 flight, 1 connection", "one", "older", 1, 1),
    ("batch of 1,000 of the last week, 1 connection", "batch", "recent", 1, 1),
    ("batch of 1,000 older Q4 flights, 1 connection", "batch", "older", 1, 1),
    ("one flight of the last week, 4 connections, 2 workers", "one", "recent", 4, 2),
)
BATCH = 1000

# wrk counts the answers that are not 2xx; the first one is printed, for the error raised.
REPORT_FAILURE = """
local reported = false
response = function(status, headers, body)
  if status ~= 200 and not reported then
    reported = true
    print("first failed answer: " .. status .. " " .. body)
  end
end
"""
GET_SCRIPT = (
    """
local ids = {%s}
local i = 0
request = function()
  i = i %% #ids + 1
  return wrk.format("GET", "/flights/" .. ids[i] .. "/score")
end
"""
    + REPORT_FAILURE
)
POST_SCRIPT = (
    """
wrk.headers["Content-Type"] = "application/json"
local bodies = {%s}
local i = 0
request = function()
  i = i %% #bodies + 1
  return wrk.format("POST", "/score", nil, bodies[i])
end
"""
    + REPORT_FAILURE
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _call(url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def _seconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def _wrk(url: str, script: Path, connections: int, seconds: int) -> dict:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk saw failed requests:\n{out}")
    # Socket errors (wrk's 2 s timeout, mostly) are reported in the table, not hidden.
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": _seconds(latency["50"]) * 1e3,
        "p99_ms": _seconds(latency["99"]) * 1e3,
        "socket_errors": sum(int(n) for n in errors.groups()) if errors else 0,
    }


def _batch_cost(home: Path, days: list[str], repeats: int) -> float:
    """The batch pipeline's seconds per flight: score_days over the same days."""
    import duckdb

    from ml import registry
    from ml.scoring import score_days

    con = duckdb.connect(str(home / "warehouse" / "warehouse.duckdb"))
    try:
        model = registry.require_champion(con)
        seconds, flights = [], 0
        for _ in range(repeats):
            started = time.perf_counter()
            flights = sum(day.rows for day in score_days(con, model, days))
            seconds.append(time.perf_counter() - started)
    finally:
        con.close()
    return median(seconds) / flights


@contextmanager
def _serving(home: Path, workers: int) -> Iterator[tuple[str, dict]]:
    """`flightline serve` on `home` with `workers` processes: its URL and its /health."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "FLIGHTLINE_HOME": str(home)}
    command = [*FLIGHTLINE, "serve", "--port", str(port), "--workers", str(workers)]
    with (home / "serve.log").open("a") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
        try:
            for _ in range(600):
                try:
                    health = _call(f"{url}/health")
                    break
                except OSError:
                    time.sleep(0.1)
            else:
                raise RuntimeError(f"flightline serve did not answer: see {home / 'serve.log'}")
            yield url, health
        finally:
            server.terminate()
            server.wait(timeout=30)


def _agreement(url: str, q4) -> tuple[int, float]:
    """Every Q4 flight through `POST /score` against the batch pipeline's score."""
    worst, ids = 0.0, q4.flight_id.tolist()
    for start in range(0, len(ids), BATCH):
        body = _call(f"{url}/score", {"flight_ids": ids[start : start + BATCH]})
        expected = q4.iloc[start : start + BATCH]
        assert body["model_version"] == expected.model_version.iloc[0]
        online = [row["score"] for row in body["scores"]]
        worst = max(worst, max(abs(a - b) for a, b in zip(online, expected.score, strict=True)))
    return len(ids), worst


def _scripts(home: Path, q4) -> dict[tuple[str, str], Path]:
    """wrk's scripts: (route, flights) -> the file. Recent flights are the last 7 days,
    which the service keeps in memory (Settings.serve_memory_days); older ones it reads
    from the snapshot."""
    last = q4.day.max()
    recent = q4.day >= str(date.fromisoformat(last) - timedelta(days=6))
    paths = {}
    for flights, ids in (("recent", q4.flight_id[recent]), ("older", q4.flight_id[~recent])):
        shuffled = random.Random(13).sample(ids.tolist(), len(ids))
        texts = {
            "one": GET_SCRIPT % ", ".join(f'"{i}"' for i in shuffled[:20_000]),
            "batch": POST_SCRIPT
            % ", ".join(
                json.dumps(json.dumps({"flight_ids": shuffled[n : n + BATCH]}))
                for n in range(0, min(20 * BATCH, len(shuffled) - BATCH + 1), BATCH)
            ),
        }
        for route, text in texts.items():
            paths[route, flights] = home / f"wrk-{route}-{flights}.lua"
            paths[route, flights].write_text(text)
    return paths


def bench_serve(home: Path, repeats: int, seconds: int = 10) -> dict:
    if shutil.which("wrk") is None:
        raise SystemExit("the serve benchmark loads the service with wrk: apt-get install wrk")
    import duckdb

    snapshot = duckdb.connect(str(home / "warehouse" / "analytics.duckdb"), read_only=True)
    q4 = snapshot.execute(
        "select flight_id, flight_date::varchar as day, score, model_version from ml.predictions "
        "where flight_date >= '2013-10-01' order by flight_id"
    ).df()
    snapshot.close()
    per_flight = _batch_cost(home, sorted(q4.day.unique()), repeats)
    scripts = _scripts(home, q4)
    loads = []
    for workers in sorted({load[4] for load in LOADS}):
        with _serving(home, workers) as (url, health):
            if workers == 1:
                compared, worst = _agreement(url, q4)
            for what, route, flights, connections, _ in [x for x in LOADS if x[4] == workers]:
                script = scripts[route, flights]
                runs = [_wrk(url, script, connections, seconds) for _ in range(repeats)]
                loads.append(
                    {
                        "what": what,
                        "route": route,
                        "flights": flights,
                        "connections": connections,
                        "workers": workers,
                        **{k: median([r[k] for r in runs]) for k in ("rps", "p50_ms", "p99_ms")},
                        "socket_errors": sum(r["socket_errors"] for r in runs),
                        "flights_per_s": median([r["rps"] for r in runs])
                        * (BATCH if route == "batch" else 1),
                    }
                )
    return {
        "model_version": health["model_version"],
        "q4_flights_compared": compared,
        "q4_max_abs_difference": worst,
        "batch_seconds_per_flight": per_flight,
        "seconds_per_load": seconds,
        "repeats": repeats,
        "loads": loads,
    }


def serve_section(serve: dict) -> list[str]:
    """BENCHMARKS.md's lines for the serve section."""
    from benchmarks.report import _table  # report.py imports this module

    batch_us = serve["batch_seconds_per_flight"] * 1e6
    # The online case: one of tomorrow's flights (the last week, kept in memory), one caller.
    one = next(r for r in serve["loads"] if r["route"] == "one" and r["connections"] == 1)
    lines = [
        "",
        "## Online inference: `flightline serve` on loopback",
        "",
        f"The cold year's snapshot and champion ({serve['model_version']}), uvicorn with one "
        f"worker process unless the row says two; wrk (one thread) for "
        f"{serve['seconds_per_load']} s a load, median of {serve['repeats']}. Flights of the "
        "last week (the service keeps them in memory: tomorrow's flights are the online case) "
        "or older Q4 flights (read from the snapshot file); single-flight calls cycle through "
        "up to 20,000 of them, batch calls through up to 20 batches of 1,000. Beside them, "
        f"the batch pipeline (`score_days` over Q4, median of {serve['repeats']}): "
        f"{batch_us:.1f} us a flight.",
        "",
        f"Agreement: {serve['q4_flights_compared']:,} Q4 flights scored through `POST /score`, "
        f"largest difference from `ml.predictions` {serve['q4_max_abs_difference']:.1e} "
        "(goal: at most 1e-12), same model version.",
        "",
        f"Goal p99 at most 20 ms for one flight (1 connection): {one['p99_ms']:.1f} ms, "
        f"{'met' if one['p99_ms'] <= 20 else 'not met'}.",
        "",
    ]
    return lines + _table(
        [
            "load",
            "requests/s",
            "p50 ms",
            "p99 ms",
            "flights/s",
            "us a flight",
            "x batch",
            "socket errors",
        ],
        [
            [
                r["what"],
                f"{r['rps']:,.0f}",
                f"{r['p50_ms']:.1f}",
                f"{r['p99_ms']:.1f}",
                f"{r['flights_per_s']:,.0f}",
                f"{1e6 / r['flights_per_s']:,.0f}",
                f"{1e6 / r['flights_per_s'] / batch_us:,.0f}",
                str(r.get("socket_errors", 0)),
            ]
            for r in serve["loads"]
        ],
    )
