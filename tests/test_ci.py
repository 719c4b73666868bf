"""The GitHub workflow runs what `make test` runs, so CI and a laptop agree."""

import re

import yaml

from ingest.settings import REPO_ROOT


def test_the_workflow_is_valid_and_runs_the_steps_of_make_test():
    workflow = yaml.safe_load((REPO_ROOT / ".github" / "workflows" / "ci.yml").read_text())
    runs = [step.get("run", "") for step in workflow["jobs"]["test"]["steps"]]

    makefile = (REPO_ROOT / "Makefile").read_text()
    test_target = re.search(r"^test: (.*)\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    prerequisites, recipe = test_target.group(1).split(), test_target.group(2)
    assert prerequisites == ["lint", "install-spark"] and "dbt-slice" in recipe
    for target in [*prerequisites, "dbt-slice"]:
        assert f"make {target}" in runs
    assert "pytest" in recipe and any("pytest" in run for run in runs)
    assert "make install" in runs


def test_ci_entry_point_runs_make_test():
    script = (REPO_ROOT / ".ci" / "run").read_text()
    assert "make test" in script
