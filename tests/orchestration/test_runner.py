"""`flightline run`'s driver (orchestration/runner.py)."""

import gc
from types import SimpleNamespace

import pytest

from orchestration import runner


def test_the_runs_go_with_the_imports_frozen_out_of_the_collector_and_it_is_undone(
    home, monkeypatch
):
    """What the imports and the Definitions made is frozen (gc.freeze) while the runs go,
    and unfrozen when the command ends: after a failed run, and after an error."""
    seen = []

    def run_plans(settings, launcher, options):
        seen.append(gc.get_freeze_count())
        if len(seen) == 2:
            raise RuntimeError("a run's error")
        return False, []

    monkeypatch.setattr(runner, "ready_launcher", lambda settings: SimpleNamespace(log_path="x"))
    monkeypatch.setattr(runner, "run_plans", run_plans)
    before = gc.get_freeze_count()
    assert runner.run_pipeline(home) == 1
    assert seen[0] > before + 1000 and gc.get_freeze_count() == before
    with pytest.raises(RuntimeError, match="a run's error"):
        runner.run_pipeline(home)
    assert seen[1] > before + 1000 and gc.get_freeze_count() == before
