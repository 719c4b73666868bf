"""The dbt manifest that dagster-dbt builds its assets from.

`DbtProject.prepare_if_dev()` only acts under `dagster dev`; the CLI, tests and CI must
produce target/manifest.json themselves before importing orchestration.definitions.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from ingest.settings import DBT_PROJECT_DIR

SOURCE_DIRS = ("models", "macros", "seeds", "tests")


def dbt_executable() -> str:
    """dbt from this interpreter's environment: `.venv/bin/python -m ...` or `dagster dev`
    started without activating the venv would otherwise not find `dbt` on PATH."""
    candidate = Path(sys.executable).parent / "dbt"
    return str(candidate) if candidate.exists() else "dbt"


def manifest_path() -> Path:
    return DBT_PROJECT_DIR / "target" / "manifest.json"


def manifest_is_stale() -> bool:
    manifest = manifest_path()
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in SOURCE_DIRS:
        sources.extend((DBT_PROJECT_DIR / folder).rglob("*"))
    return any(path.is_file() and path.stat().st_mtime > built for path in sources)


def ensure_manifest(force: bool = False) -> Path:
    """Run `dbt parse` when the manifest is missing or older than the project's files."""
    if force or manifest_is_stale():
        completed = subprocess.run(
            [dbt_executable(), "parse", "--quiet", "--profiles-dir", "."],
            cwd=DBT_PROJECT_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                "dbt parse failed; fix the dbt project and run again:\n"
                + completed.stdout
                + completed.stderr
            )
    return manifest_path()
