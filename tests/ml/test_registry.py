"""The registry keeps a model's folder relative to the data directory: a data directory moved
or copied (a backup restored, a second copy of the pipeline) keeps its models."""

import shutil
from pathlib import Path

import duckdb
import pytest

from ingest.settings import Settings
from ml import registry


def _record(version: str, artifacts) -> dict:
    windows = ("2013-01-01", "2013-01-10", "2013-01-11", "2013-01-14")
    return {
        "model_version": version,
        "trigger": "test",
        "cutoff_date": "2013-01-15",
        **dict(
            zip(
                ("training_start", "training_end", "validation_start", "validation_end"),
                windows,
                strict=True,
            )
        ),
        "training_rows": 10,
        "validation_rows": 5,
        "code_version": "test",
        "data_fingerprint": "f",
        "algorithm": "constant",
        "params": {},
        "metrics": {"roc_auc": 0.5},
        "threshold": 0.5,
        "artifact_path": str(artifacts),
    }


def test_a_moved_data_directory_keeps_its_models(tmp_path, monkeypatch):
    home = Settings(home=tmp_path / "home")
    home.warehouse_dir.mkdir(parents=True)
    con = duckdb.connect(str(home.warehouse))
    registry.register(con, _record("v1", home.models / "v1"), {"kind": "model"}, {"a.txt": b"x"})
    outside = tmp_path / "elsewhere" / "v2"
    registry.register(con, _record("v2", outside), {"kind": "other"}, {})
    monkeypatch.chdir(tmp_path)  # a relative folder outside: kept as the absolute one it is
    registry.register(con, _record("v3", Path("aside/v3")), {"kind": "third"}, {})
    stored = dict(
        con.execute("select model_version, artifact_path from ml.model_registry").fetchall()
    )
    con.close()
    assert stored == {"v1": "models/v1", "v2": str(outside), "v3": str(tmp_path / "aside/v3")}

    moved = Settings(home=tmp_path / "moved")
    shutil.move(home.home, moved.home)
    con = duckdb.connect(str(moved.warehouse))
    model = registry.get(con, "v1")
    assert model.artifact_path == str(moved.models / "v1")
    assert model.load() == {"kind": "model"}
    assert registry.get(con, "v2").artifact_path == str(outside)  # outside: as registered
    assert registry.get(con, "v3").load() == {"kind": "third"}
    con.close()


def test_a_registry_in_memory_keeps_the_path_as_given(tmp_path):
    con = duckdb.connect()
    model = registry.register(con, _record("v1", tmp_path / "v1"), [1, 2], {})
    assert model.artifact_path == str(tmp_path / "v1") and model.load() == [1, 2]


def test_a_model_whose_folder_is_gone_says_where_it_looked(tmp_path):
    home = Settings(home=tmp_path / "home")
    home.warehouse_dir.mkdir(parents=True)
    con = duckdb.connect(str(home.warehouse))
    model = registry.register(con, _record("v1", home.models / "v1"), [1], {})
    shutil.rmtree(home.models)
    with pytest.raises(registry.RegistryError, match=str(home.models / "v1")):
        model.load()
    con.close()


def test_a_copy_made_before_paths_were_relative_uses_its_own_models(tmp_path):
    """A row with an absolute path (registered before 2026-12-03) in a copied data
    directory: its own models/<version> from then on, not its original's."""
    original = Settings(home=tmp_path / "original")
    original.warehouse_dir.mkdir(parents=True)
    con = duckdb.connect(str(original.warehouse))
    registry.register(con, _record("v1", original.models / "v1"), "original", {})
    registry.register(con, _record("v2", tmp_path / "kept" / "v2"), "elsewhere", {})
    con.execute(
        "update ml.model_registry set artifact_path = ? where model_version = 'v1'",
        [str(original.models / "v1")],
    )
    con.close()
    copy = Settings(home=tmp_path / "copy")
    shutil.copytree(original.home, copy.home)
    registry.register(  # the copy's own file, told apart from its original's
        duckdb.connect(":memory:"), _record("v1", copy.models / "v1"), "the copy's", {}
    )

    con = duckdb.connect(str(copy.warehouse))
    assert registry.get(con, "v1").load() == "the copy's"
    assert registry.get(con, "v2").load() == "elsewhere"  # not in the copy: kept as it was
    stored = dict(
        con.execute("select model_version, artifact_path from ml.model_registry").fetchall()
    )
    con.close()
    assert stored == {"v1": "models/v1", "v2": str(tmp_path / "kept" / "v2")}
