"""The production deployment's configuration files (docs/deploy.md) as dbt and Dagster read
them: dbt loads docs/deploy/profiles.yml's Spark Thrift and Databricks targets and parses the
project against each (the adapter checks the credentials; nothing connects), and Dagster
checks docs/deploy/dagster.yaml against its instance schema and each configured class's own
(Postgres storage, the Kubernetes run launcher). Each check also fails on a broken copy, so
a pass means something."""

import subprocess
from pathlib import Path

import pytest

from ingest.settings import DBT_PROJECT_DIR, REPO_ROOT
from orchestration.dbt_manifest import dbt_executable

pytestmark = pytest.mark.e2e  # three dbt parses, ~7 s each: `make test`, not test-fast

DEPLOY = REPO_ROOT / "docs" / "deploy"
SECRETS = {
    "FLIGHTLINE_SPARK_THRIFT_HOST": "spark-thrift.flightline.internal",
    "DATABRICKS_HOST": "adb-1234567890123456.7.azuredatabricks.net",
    "DATABRICKS_CLUSTER_ID": "1201-123456-abcdefgh",
    "DATABRICKS_TOKEN": "dapi-not-a-real-token",
}


def dbt_parse(
    profiles: Path, target: str, tmp_path: Path, monkeypatch
) -> subprocess.CompletedProcess:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DBT_TARGET", raising=False)
    return subprocess.run(
        [
            dbt_executable(),
            *("parse", "--no-partial-parse", "--target", target),
            *("--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(profiles)),
            *("--target-path", str(tmp_path / target)),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )


@pytest.mark.parametrize("target", ["cluster", "databricks"])
def test_dbt_reads_the_production_profile(target, tmp_path, monkeypatch):
    pytest.importorskip("pyhive", reason="the deployment's clients: make install-spark")
    parsed = dbt_parse(DEPLOY, target, tmp_path, monkeypatch)
    assert parsed.returncode == 0, parsed.stdout[-3000:]
    assert (tmp_path / target / "manifest.json").exists()


def test_dbt_refuses_a_broken_production_profile(tmp_path, monkeypatch):
    pytest.importorskip("pyhive", reason="the deployment's clients: make install-spark")
    broken = tmp_path / "broken"
    broken.mkdir()
    text = (DEPLOY / "profiles.yml").read_text()
    # On Spark a database is the schema: dbt-spark refuses two different names.
    (broken / "profiles.yml").write_text(
        text.replace(
            "      schema: flightline\n", "      schema: flightline\n      database: other\n"
        )
    )
    parsed = dbt_parse(broken, "cluster", tmp_path, monkeypatch)
    assert parsed.returncode != 0
    assert "database must be omitted or have the same value as schema" in parsed.stdout


def test_dagster_reads_the_production_instance(tmp_path):
    pytest.importorskip("dagster_k8s", reason="the deployment's clients: make install-spark")
    pytest.importorskip("dagster_postgres", reason="the deployment's clients: make install-spark")
    from orchestration.dagster_private import instance_config_problems

    problems = instance_config_problems(DEPLOY)
    if problems is None:
        pytest.skip("Dagster's private config modules moved (orchestration/dagster_private/)")
    assert problems == []

    # One mistake Dagster's instance schema catches, one only the launcher's own schema does.
    for mistake, wanted in (
        (("      port: 5432", "      port: five"), "storage:postgres:postgres_db:port"),
        (("    job_image:", "    job_imag:"), "job_imag"),
    ):
        broken = tmp_path / wanted.replace(":", "-")
        broken.mkdir()
        (broken / "dagster.yaml").write_text(
            (DEPLOY / "dagster.yaml").read_text().replace(*mistake)
        )
        problems = instance_config_problems(broken)
        assert any(wanted in problem for problem in problems), problems
