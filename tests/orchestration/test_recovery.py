import subprocess
import sys

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from orchestration.instance import prepare_dagster_home
from orchestration.partitions import WAREHOUSE_POOL
from orchestration.runner import recover_abandoned_runs


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

    # A run whose process is alive (this one) is left alone.
    import os

    started_run("alive", str(os.getpid()))
    assert recover_abandoned_runs(instance) == []
    assert instance.get_run_by_id("alive").status == DagsterRunStatus.STARTED
