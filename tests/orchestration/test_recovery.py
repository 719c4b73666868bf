import subprocess
import sys

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from orchestration.instance import prepare_dagster_home
from orchestration.launcher import recover_abandoned_runs
from orchestration.partitions import WAREHOUSE_POOL


def test_a_run_whose_process_died_is_failed_and_frees_the_warehouse_slot(home, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))
    prepare_dagster_home(home)
    instance = DagsterInstance.get()
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    storage = instance.event_log_storage
    storage.set_concurrency_slots(WAREHOUSE_POOL, 1)

    def started_run(run_id, pid):
        instance.add_run(
            DagsterRun(
                job_name="feature_pipeline",
                run_id=run_id,
                status=DagsterRunStatus.STARTED,
                tags={"flightline/trigger": "cli", "flightline/pid": pid},
            )
        )
        storage.claim_concurrency_slot(WAREHOUSE_POOL, run_id, "ingest_schedules")

    started_run("abandoned", dead.stdout.strip())
    assert storage.get_concurrency_info(WAREHOUSE_POOL).active_slot_count == 1

    assert recover_abandoned_runs(instance) == ["abandoned"]
    assert instance.get_run_by_id("abandoned").status == DagsterRunStatus.FAILURE
    assert storage.get_concurrency_info(WAREHOUSE_POOL).active_slot_count == 0

    # The PID a dead run recorded may name a live process by now (here: this one). The data
    # directory's lock, which only a live process holds, is what says the run is gone.
    import os

    started_run("pid-reused", str(os.getpid()))
    assert recover_abandoned_runs(instance) == ["pid-reused"]
    assert storage.get_concurrency_info(WAREHOUSE_POOL).active_slot_count == 0


def test_a_second_command_on_a_data_directory_stops_with_one_line_naming_the_first(home):
    from ingest.datadir import DataDirBusy, hold

    busy = pytest.raises(DataDirBusy, match=r"another flightline command .*flightline run")
    with hold(home, "flightline run"), busy, hold(home):
        pass
    with hold(home):  # released when the first ends
        pass


def test_the_lock_of_a_killed_process_is_free_at_once(home):
    from ingest.datadir import hold

    script = (
        "import os, sys; from ingest.datadir import hold; from ingest.settings import Settings;"
        f"from pathlib import Path\nwith hold(Settings(home=Path({str(home.home)!r}))):\n"
        "    print('held', flush=True); os.kill(os.getpid(), 9)"
    )
    completed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert completed.returncode == -9 and "held" in completed.stdout
    with hold(home):
        pass


def test_the_data_directory_is_private_to_its_owner_and_group(home):
    from ingest.datadir import hold

    with hold(home):
        (home.home / "made-during-a-command").write_text("x")
    assert home.home.stat().st_mode & 0o777 == 0o750
    assert (home.home / "made-during-a-command").stat().st_mode & 0o007 == 0


def test_a_second_flightline_command_prints_one_line_and_exits(home, capsys):
    from ingest.datadir import hold
    from orchestration.cli import main

    with hold(home, "flightline run"):
        assert main(["ingest"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another flightline command is running" in err[0]


def test_a_launch_says_which_run_holds_the_warehouse_and_waits_for_it(home, monkeypatch, capsys):
    import threading

    from orchestration.launcher import wait_for_warehouse_pool

    instance, storage = _slot_held_by(home, monkeypatch, "from-the-ui", DagsterRunStatus.STARTED)
    release = threading.Timer(1.0, storage.free_concurrency_slots_for_run, ["from-the-ui"])
    release.start()

    wait_for_warehouse_pool(instance, poll_seconds=0.1)

    out = capsys.readouterr().out
    assert "waiting: run from-the-ui (inference_pipeline) holds the warehouse" in out
    assert storage.get_concurrency_info(WAREHOUSE_POOL).active_slot_count == 0


def test_a_slot_still_held_by_a_run_that_ended_is_freed_not_waited_for(home, monkeypatch, capsys):
    from orchestration.launcher import wait_for_warehouse_pool

    instance, storage = _slot_held_by(home, monkeypatch, "ended", DagsterRunStatus.FAILURE)

    wait_for_warehouse_pool(instance, poll_seconds=60)  # returns at once, or the test hangs

    assert "freed the warehouse slot of run ended" in capsys.readouterr().out
    assert storage.get_concurrency_info(WAREHOUSE_POOL).active_slot_count == 0


def _slot_held_by(home, monkeypatch, run_id, status):
    """An instance whose one warehouse slot is held by an inference run in `status`."""
    monkeypatch.setenv("DAGSTER_HOME", str(home.dagster_home))
    prepare_dagster_home(home)
    instance = DagsterInstance.get()
    storage = instance.event_log_storage
    storage.set_concurrency_slots(WAREHOUSE_POOL, 1)
    instance.add_run(DagsterRun(job_name="inference_pipeline", run_id=run_id, status=status))
    storage.claim_concurrency_slot(WAREHOUSE_POOL, run_id, "score")
    return instance, storage
