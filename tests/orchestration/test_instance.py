"""The Dagster instance of a data directory (orchestration/instance.py): runs written before
kept, an operator's lines in dagster.yaml kept, Dagster's own classes where asked for."""

import warnings

from dagster import DagsterInstance

from ingest.settings import Settings
from orchestration.dagster_private import BatchingSqliteEventLogStorage
from orchestration.instance import prepare_dagster_home
from tests.orchestration.dagster_events import (
    ASSET,
    materializations,
    restore_environment,
)


def test_the_instance_keeps_the_runs_of_a_home_written_before(tmp_path, monkeypatch):
    """A data directory whose dagster.yaml has no flightline block (Dagster's default
    storage) is the operator's: the file is left as it is, and the history stays."""
    restore_environment(monkeypatch)
    home = Settings(home=tmp_path / "home")
    home.dagster_home.mkdir(parents=True)
    (home.dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    before = DagsterInstance.from_config(str(home.dagster_home))
    before.event_log_storage.store_event(materializations("old-run", ["2013-01-01"])[0])
    prepare_dagster_home(home)
    after = DagsterInstance.from_config(str(home.dagster_home))
    assert after.get_materialized_partitions(ASSET) == {"2013-01-01"}


def test_an_operators_lines_in_dagster_yaml_survive_every_command(tmp_path, monkeypatch):
    restore_environment(monkeypatch)
    home = Settings(home=tmp_path / "home")
    prepare_dagster_home(home)
    config = home.dagster_home / "dagster.yaml"
    mine = "retention:\n  schedule:\n    purge_after_days: 90\n"
    config.write_text(config.read_text() + mine)
    config.write_text(config.read_text().replace("max_retries: 2", "max_retries: 9"))

    prepare_dagster_home(home)

    text = config.read_text()
    assert text.endswith(mine)  # the operator's lines, where they put them
    assert "max_retries: 2" in text and "max_retries: 9" not in text  # the block is ours
    instance = DagsterInstance.from_config(str(home.dagster_home))
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
    assert isinstance(instance.event_log_storage, BatchingSqliteEventLogStorage)

    # Without the block the whole file is the operator's: not touched at all.
    config.write_text(mine)
    prepare_dagster_home(home)
    assert config.read_text() == mine

    # The file flightline wrote whole before the block (naming a module that is gone) is
    # flightline's: replaced. A block pasted twice becomes one.
    config.write_text(
        "# Written by flightline (every command rewrites it: orchestration/instance.py).\n"
        "event_log_storage:\n  module: orchestration.event_log\n"
    )
    prepare_dagster_home(home)
    assert "orchestration.event_log\n" not in config.read_text()
    DagsterInstance.from_config(str(home.dagster_home))
    block = config.read_text()
    config.write_text(block + mine + block)
    prepare_dagster_home(home)
    assert config.read_text().count("# >>> flightline") == 1


def test_the_stock_switch_and_an_untested_dagster_use_dagsters_own_classes(tmp_path, monkeypatch):
    """Private APIs are a speed-up with a way out: FLIGHTLINE_STOCK_DAGSTER, or a Dagster
    series they were not tested on, configures Dagster's stock storage and makes the dbt
    resource call dagster-dbt's own methods."""
    from dagster._core.storage.event_log import SqliteEventLogStorage

    import orchestration.dagster_private as private
    from orchestration.resources import dbt_resource

    for switch in ("env", "version"):
        restore_environment(monkeypatch)
        if switch == "env":
            monkeypatch.setenv(private.STOCK_SWITCH, "1")
        else:
            monkeypatch.setattr(private, "UNTESTED", ["dagster 9.9"])
        home = Settings(home=tmp_path / switch)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            prepare_dagster_home(home)
        assert (switch == "version") == any("stock storage" in str(w.message) for w in caught)
        instance = DagsterInstance.from_config(str(home.dagster_home))
        assert type(instance.event_log_storage) is SqliteEventLogStorage
        resource = dbt_resource()
        monkeypatch.setattr(
            private.DbtCliResource, "_initialize_dbt_core_adapter", lambda self, args: args
        )
        assert resource._initialize_dbt_core_adapter(["build"]) == ["build"]  # dagster-dbt's
        monkeypatch.undo()
