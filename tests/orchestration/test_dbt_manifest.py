"""A cold `flightline run` parses the dbt project while it exports the year
(orchestration/dbt_manifest.py's prepared_meanwhile), and says what failed."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from orchestration import dbt_manifest


def _failing(settings):
    raise RuntimeError("dbt parse failed; fix the dbt project and run again")


def test_the_block_runs_while_dbt_parses_and_the_parse_is_done_after_it(home, monkeypatch):
    parsing, release, done = threading.Event(), threading.Event(), []

    def prepare(settings):
        parsing.set()
        assert release.wait(10)
        done.append(settings)

    monkeypatch.setattr(dbt_manifest, "prepare_dbt", prepare)
    with dbt_manifest.prepared_meanwhile(home):
        assert parsing.wait(10) and not done  # the block runs while the parse does
        release.set()
    assert done == [home]


def test_a_parse_error_is_raised_after_the_block_or_noted_on_the_blocks_own(home, monkeypatch):
    monkeypatch.setattr(dbt_manifest, "prepare_dbt", _failing)
    ran = []
    with (
        pytest.raises(RuntimeError, match="dbt parse failed"),
        dbt_manifest.prepared_meanwhile(home),
    ):
        ran.append("export")
    assert ran == ["export"]

    # The block fails too, after the parse did: the block's error, with the parse's noted.
    futures = []

    class Recorded(ThreadPoolExecutor):
        def submit(self, *args, **kwargs):
            futures.append(super().submit(*args, **kwargs))
            return futures[-1]

    monkeypatch.setattr(dbt_manifest, "ThreadPoolExecutor", Recorded)
    with (
        pytest.raises(OSError, match="disk full") as raised,
        dbt_manifest.prepared_meanwhile(home),
    ):
        assert isinstance(futures[0].exception(timeout=10), RuntimeError)  # the parse failed
        raise OSError("disk full")
    assert "meanwhile dbt's parse failed too: dbt parse failed" in raised.value.__notes__[0]


def test_a_cold_flightline_run_exports_while_dbt_parses(home, monkeypatch, capsys):
    """The command's wiring: an empty landing/ is exported by a process started before
    prepared_meanwhile's thread (a fork copies only the calling thread), and waited for
    inside it, while dbt parses and the run's modules are imported."""
    from ingest.provider import export
    from orchestration import cli, runner

    order = []

    def prepare(settings):
        order.append("parsed")

    def export_feeds_beside(landing):
        # before dbt's parse thread starts: the fork would not copy it
        assert not any(t.name.startswith("dbt-parse") for t in threading.enumerate())
        order.append("export started")
        return lambda: order.append("exported") or "1461 files written, 0 unchanged"

    monkeypatch.setattr(dbt_manifest, "prepare_dbt", prepare)
    monkeypatch.setattr(export, "export_feeds_beside", export_feeds_beside)
    monkeypatch.setattr(runner, "run_pipeline", lambda settings, options: order.append("run") or 0)
    assert cli.main(["run"]) == 0
    assert order[0] == "export started"
    assert sorted(order[1:3]) == ["exported", "parsed"] and order[3:] == ["run"]
    assert "1461 files written" in capsys.readouterr().out


def test_the_manifest_is_stale_after_an_edit_to_the_project_and_only_then(tmp_path, monkeypatch):
    """What dbt reads (dbt_project.yml, profiles.yml and the source folders), by the newest
    modification time (ingest/settings.py's source_stamp); a folder the project lacks is
    nothing."""
    import os

    (tmp_path / "dbt_project.yml").write_text("name: x\n")
    (tmp_path / "models" / "staging").mkdir(parents=True)
    model = tmp_path / "models" / "staging" / "stg.sql"
    model.write_text("select 1\n")
    (tmp_path / "other").mkdir()
    monkeypatch.setattr(dbt_manifest, "DBT_PROJECT_DIR", tmp_path)
    built = max(path.stat().st_mtime_ns for path in (tmp_path / "dbt_project.yml", model))
    assert not dbt_manifest._changed_since(built)
    os.utime(tmp_path / "other", ns=(built + 10**9, built + 10**9))  # not dbt's
    assert not dbt_manifest._changed_since(built)
    os.utime(model, ns=(built + 10**9, built + 10**9))
    assert dbt_manifest._changed_since(built)
