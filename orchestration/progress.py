"""A live line on the terminal while a `flightline` command's run executes: the job, its
window, the step running, steps done of total, asset partitions materialized so far, and
the seconds elapsed. It reads only the run's events from Dagster's instance (the run itself
writes to the log file, not to the terminal), and shows nothing when the output is not a
terminal (CI, `make run > file`): the result lines after each run say it all there."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from datetime import UTC, date, datetime
from typing import TextIO

from dagster import DagsterEventType, DagsterInstance, DagsterRunStatus, RunsFilter
from rich.console import Console
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

WATCHED = {
    DagsterEventType.STEP_START,
    DagsterEventType.STEP_SUCCESS,
    DagsterEventType.STEP_FAILURE,
    DagsterEventType.ASSET_MATERIALIZATION,
}


class RunProgress:
    """`with RunProgress(instance, job, window, out):` around the execution of one run
    started by this process (found by its `flightline/pid` tag)."""

    def __init__(
        self,
        instance: DagsterInstance,
        job_name: str,
        window: tuple[str, str] | None,
        out: TextIO,
        interval: float = 0.5,
        force_terminal: bool | None = None,
    ):
        self.instance, self.job_name, self.interval = instance, job_name, interval
        self.console = Console(file=out, force_terminal=force_terminal, highlight=False)
        days = (
            (date.fromisoformat(window[1]) - date.fromisoformat(window[0])).days + 1
            if window
            else 0
        )
        self.window = f" ({days} day{'s' if days > 1 else ''})" if window else ""
        self.started = time.monotonic()
        self.created_after = datetime.now(UTC)
        self.run_id: str | None = None
        self.total: int | None = None
        self.cursor: str | None = None
        self.running: list[str] = []
        self.done = 0
        self.materialized = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunProgress:
        if self.console.is_terminal:
            # Not Console.status: its Live swaps sys.stdout, which the run's own redirect to
            # the log file swaps too.
            self._spinner = Spinner("dots", self.line(), style="dim")
            self._status = Live(
                self._spinner,
                console=self.console,
                transient=True,
                redirect_stdout=False,
                redirect_stderr=False,
                refresh_per_second=4,
            )
            self._status.start()
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=5)
            self._status.stop()

    def line(self) -> Text:
        steps = f"{self.done}/{self.total}" if self.total else f"{self.done}"
        parts = f", {self.materialized:,} materialized" if self.materialized else ""
        step = f": {', '.join(self.running[-2:])}" if self.running else ""
        elapsed = time.monotonic() - self.started
        text = Text(
            f"{self.job_name}{self.window} {elapsed:.0f} s, {steps} steps done{parts}{step}"
        )
        text.truncate(self.console.width - 3, overflow="ellipsis")  # the spinner's column
        return text

    def refresh(self) -> None:
        """Read the events since the last refresh (the thread calls it; tests too)."""
        if self.run_id is None:
            runs = self.instance.get_runs(
                RunsFilter(
                    job_name=self.job_name,
                    tags={"flightline/pid": str(os.getpid())},
                    created_after=self.created_after,
                ),
                limit=1,
            )
            if not runs:
                return
            self.run_id = runs[0].run_id
            keys = runs[0].step_keys_to_execute
            self.total = len(keys) if keys else None
        while True:
            connection = self.instance.get_records_for_run(
                self.run_id, cursor=self.cursor, of_type=WATCHED, limit=500
            )
            for record in connection.records:
                self._take(record.event_log_entry)
            self.cursor = connection.cursor
            if not connection.has_more:
                break

    def _take(self, entry) -> None:
        event_type = entry.dagster_event.event_type
        step = entry.step_key or ""
        if event_type == DagsterEventType.STEP_START:
            self.running.append(step)
        elif event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
            self.done += 1
            if step in self.running:
                self.running.remove(step)
        elif event_type == DagsterEventType.ASSET_MATERIALIZATION:
            self.materialized += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            # A busy database now and then: the next tick reads again.
            with contextlib.suppress(Exception):
                self.refresh()
                run = self.instance.get_run_by_id(self.run_id) if self.run_id else None
                if run is not None and run.status in (
                    DagsterRunStatus.SUCCESS,
                    DagsterRunStatus.FAILURE,
                ):
                    break
            self._spinner.update(text=self.line())
