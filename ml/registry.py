"""The model registry: ml.model_registry in the warehouse, artifacts under models/<version>/.

A model is addressed by its registered version, never by "the newest file". Status moves
candidate -> champion -> retired; only the promotion gate makes a champion.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import joblib

from ingest.settings import Settings
from ingest.tables import REGISTRY, ensure_table
from ml.features import FEATURES


class RegistryError(Exception):
    """The registry cannot answer: no champion, missing artifact, unknown version."""


@dataclass(frozen=True)
class RegisteredModel:
    """A row of ml.model_registry; `artifact_path` absolute (the registry keeps it relative
    to the data directory, so that a moved or copied data directory keeps its models)."""

    model_version: str
    status: str
    threshold: float
    artifact_path: str
    validation_start: str
    validation_end: str
    validation_roc_auc: float
    algorithm: str
    training_start: str
    training_end: str
    cutoff_date: str

    def load(self) -> Any:
        path = Path(self.artifact_path) / "model.joblib"
        if not path.exists():
            raise RegistryError(
                f"artifact of model {self.model_version} is missing at {path}; "
                "retrain it (flightline train) or restore data/models/"
            )
        return joblib.load(path)


def ensure_registry(con: duckdb.DuckDBPyConnection) -> None:
    ensure_table(con, REGISTRY)
    _relative_artifacts(con)


def _relative_artifacts(con: duckdb.DuckDBPyConnection) -> None:
    """Rows registered before artifact folders were kept relative (absolute paths): each
    whose folder this data directory has (models/<version>) is rewritten to it, once. A copy
    of a data directory made before then used its original's folders (and wrote the
    original's model card); a warehouse copied without its models keeps the path it has."""
    absolute = con.execute(
        "select model_version, artifact_path from ml.model_registry where artifact_path like '/%'"
    ).fetchall()
    # Asked only when there is a row to rewrite: every registry read calls this, and
    # _model resolves the data directory again for the rows it returns.
    home = _data_directory(con) if absolute else None
    if home is None:
        return
    for version, path in absolute:
        mine = Path("models") / version
        if Path(path).name == version and (home / mine).is_dir():
            con.execute(
                "update ml.model_registry set artifact_path = ? where model_version = ?",
                [str(mine), version],
            )


def code_version(repo: Path) -> str:
    """The git commit of the code, with '-dirty' when the work tree has changes."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("-dirty" if dirty else "")


def model_version(cutoff: str, data_fingerprint: str, params: dict, code: str) -> str:
    """Same data, parameters and code give the same version: training is deterministic."""
    digest = hashlib.sha256(
        json.dumps([data_fingerprint, params, code], sort_keys=True).encode()
    ).hexdigest()
    return f"{cutoff.replace('-', '')}-{digest[:10]}"


_COLUMNS = (
    "model_version, status, threshold, artifact_path, validation_start::varchar, "
    "validation_end::varchar, validation_roc_auc, algorithm, training_start::varchar, "
    "training_end::varchar, cutoff_date::varchar"
)


def _data_directory(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The data directory of the warehouse file `con` has open (None in memory)."""
    (path,) = con.execute(
        "select path from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return Settings.of_warehouse(Path(path)).home if path else None


def _model(con: duckdb.DuckDBPyConnection, row: tuple) -> RegisteredModel:
    model = RegisteredModel(*row)
    home = _data_directory(con)
    if home is None or Path(model.artifact_path).is_absolute():
        return model  # registered before artifact paths were kept relative, or in memory
    return replace(model, artifact_path=str(home / model.artifact_path))


def get(con: duckdb.DuckDBPyConnection, version: str) -> RegisteredModel | None:
    ensure_registry(con)
    row = con.execute(
        f"select {_COLUMNS} from ml.model_registry where model_version = ?", [version]
    ).fetchone()
    return _model(con, row) if row else None


def champion(con: duckdb.DuckDBPyConnection, read_only: bool = False) -> RegisteredModel | None:
    """The champion, if there is one. `read_only`: a connection that cannot create the
    registry table (the analysts' snapshot, which has it)."""
    if not read_only:
        ensure_registry(con)
    rows = con.execute(
        f"select {_COLUMNS} from ml.model_registry where status = 'champion'"
    ).fetchall()
    if len(rows) > 1:
        raise RegistryError(f"{len(rows)} champions in ml.model_registry; there must be one")
    return _model(con, rows[0]) if rows else None


def require_champion(con: duckdb.DuckDBPyConnection) -> RegisteredModel:
    model = champion(con)
    if model is None:
        raise RegistryError(
            "no champion model in ml.model_registry: train one first (flightline run trains "
            "the first model; the promotion gate makes it champion)"
        )
    return model


def _stored(con: duckdb.DuckDBPyConnection, artifact_dir: Path) -> str:
    """An artifact folder as the registry keeps it: relative to the warehouse's data
    directory when it is inside it."""
    home, path = _data_directory(con), artifact_dir.resolve()
    if home is not None and path.is_relative_to(home):
        return str(path.relative_to(home))
    return str(path)


def register(
    con: duckdb.DuckDBPyConnection, record: dict[str, Any], model: Any, files: dict[str, bytes]
) -> RegisteredModel:
    """Write the artifacts, then the registry row (status candidate)."""
    ensure_registry(con)
    artifact_dir = Path(record["artifact_path"])
    artifact_dir.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, artifact_dir / "model.joblib")
    for name, content in files.items():
        (artifact_dir / name).write_bytes(content)
    con.execute(
        """
        insert or replace into ml.model_registry (
            model_version, trained_at, trigger, cutoff_date, training_start, training_end,
            validation_start, validation_end, training_rows, validation_rows,
            feature_columns, code_version, data_fingerprint, algorithm, params, metrics,
            validation_roc_auc, threshold, artifact_path, status
        ) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'candidate')
        """,
        [
            record["model_version"],
            datetime.now(UTC),
            record["trigger"],
            record["cutoff_date"],
            record["training_start"],
            record["training_end"],
            record["validation_start"],
            record["validation_end"],
            record["training_rows"],
            record["validation_rows"],
            list(FEATURES),
            record["code_version"],
            record["data_fingerprint"],
            record["algorithm"],
            json.dumps(record["params"], sort_keys=True),
            json.dumps(record["metrics"], sort_keys=True),
            record["metrics"]["roc_auc"],
            record["threshold"],
            _stored(con, artifact_dir),
        ],
    )
    registered = get(con, record["model_version"])
    assert registered is not None
    return registered
