"""The live line a command shows while its run executes, read from the run's events."""

import io
import os
import time

from dagster import DagsterInstance, asset, materialize

from orchestration.progress import RunProgress

JOB = "__ephemeral_asset_job__"  # materialize()'s job


@asset
def first_step():
    time.sleep(1.0)
    return 1


@asset
def second_step(first_step):
    time.sleep(1.0)
    return first_step + 1


def _run(instance, progress):
    """Two steps under the progress line. The tests give it a temporary instance on disk, as
    a command's runs have: the line reads the run's events from a thread while the run
    writes them, which an ephemeral instance's in-memory SQLite refused now and then
    ("database table is locked: runs", once in a `make test-fast`)."""
    with progress:
        materialize(
            [first_step, second_step],
            instance=instance,
            tags={"flightline/pid": str(os.getpid())},
        )
    progress.refresh()


def test_a_terminal_sees_the_step_steps_done_of_total_and_seconds_then_a_clean_line():
    out = io.StringIO()
    with DagsterInstance.local_temp() as instance:
        progress = RunProgress(instance, JOB, None, out, interval=0.1, force_terminal=True)
        _run(instance, progress)
    shown = out.getvalue()
    assert "1/2 steps done, 1 materialized: second_step" in shown
    assert (progress.done, progress.total, progress.materialized) == (2, 2, 2)
    assert shown.endswith("\x1b[2K")  # transient: the result lines print on a clean line


def test_no_terminal_no_progress_line():
    out = io.StringIO()
    with DagsterInstance.local_temp() as instance:
        _run(instance, RunProgress(instance, JOB, ("2013-01-01", "2013-01-02"), out))
    assert out.getvalue() == ""
