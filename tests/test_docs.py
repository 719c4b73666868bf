"""Every command in README.md and docs/ stays runnable: each line of a ```bash block is
parsed and checked as cheaply as it can be (flightline's own parser, make's targets, a
script's --help, dbt's and dagster's subcommands, the files it names). A command this test
does not know fails it: a new kind of command gets a check here. What the cheap checks
cannot show runs elsewhere: the analysts' `duckdb` commands in
tests/orchestration/test_ml_pipelines.py (on a published snapshot, with the duckdb-cli the
README names), `dbt build` on a fresh clone in tests/dbt/test_dbt_build.py."""

from __future__ import annotations

import importlib.util
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ingest.settings import REPO_ROOT
from orchestration.cli import parser

PAGES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
BLOCK = re.compile(r"^```bash\n(.*?)^```", re.DOTALL | re.MULTILINE)
ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def commands() -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        for block in BLOCK.findall(page.read_text()):
            for line in block.replace("\\\n", " ").splitlines():
                line = re.sub(r"(^|\s)#.*$", "", line).strip()
                if line:
                    found.append((page.relative_to(REPO_ROOT).as_posix(), line))
    return found


def make_targets() -> set[str]:
    makefile = (REPO_ROOT / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", makefile, re.MULTILINE))


def check(words: list[str], cwd: Path) -> Path:
    """Check one simple command; returns the directory the next one runs in."""
    while words and ASSIGNMENT.match(words[0]):
        words = words[1:]
    program, args = words[0], words[1:]
    if program == "cd":
        target = (cwd / args[0]).resolve()
        assert target.is_dir(), f"no directory {args[0]}"
        return target
    if program == "source":
        assert (cwd / args[0]).exists() or args[0].startswith(".venv/")
    elif program == "make":
        assert set(args) <= make_targets(), f"make has no target {set(args) - make_targets()}"
    elif program == "flightline":
        try:
            parser().parse_args(args)
        except SystemExit as exit_:
            assert exit_.code == 0, f"flightline refuses {shlex.join(args)}"
    elif program.endswith("python") and args[0] == "-m":  # python -m pdb -m orchestration.cli
        modules = []
        while args and args[0] == "-m":
            modules, args = [*modules, args[1]], args[2:]
        assert all(importlib.util.find_spec(module) for module in modules), modules
        if modules[-1] == "orchestration.cli":
            check(["flightline", *args], cwd)
    elif program.endswith("python"):
        script = cwd / args[0]
        assert script.is_file(), f"no script {args[0]}"
        done = subprocess.run(
            [sys.executable, str(script), "--help"], cwd=cwd, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
    elif program in ("dbt", "dagster"):
        subcommand = [word for word in args if not word.startswith("-")][
            : 2 if program == "dagster" else 1
        ]
        executable = Path(sys.executable).parent / program
        done = subprocess.run(
            [str(executable), *subcommand, "--help"], cwd=cwd, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{program} {shlex.join(subcommand)}: {done.stderr[-500:]}"
    elif program == "duckdb":
        named = [word for word in args if word.endswith(".sql")]
        assert all((cwd / path).is_file() for path in named), f"missing {named}"
        assert "-readonly" in args, "the analysts' client opens the snapshot read-only"
    elif program == "curl":  # a call to `flightline serve`: a route it has
        from ml.service import create_app

        url = next(word for word in args if word.startswith("localhost:"))
        path = "/" + url.split("/", 1)[1]
        routes = [route.path_regex for route in create_app(None).routes]
        assert any(route.match(path) for route in routes), f"flightline serve has no {path}"
    elif program in ("pip", "git"):
        pass  # installs and worktrees: their effects are tested where they are used
    else:
        pytest.fail(f"no check for `{program}`: add one to tests/test_docs.py")
    return cwd


@pytest.mark.parametrize(("page", "line"), commands(), ids=lambda value: value[:60])
def test_documented_command_runs(page, line):
    cwd = REPO_ROOT
    redirect = re.search(r" < (\S+)$", line)
    if redirect:
        line = line[: redirect.start()]
        assert (cwd / redirect.group(1)).is_file(), f"no file {redirect.group(1)}"
    for part in line.split("&&"):
        cwd = check(shlex.split(part), cwd)


def test_the_readme_reads_in_five_minutes():
    """At most 200 lines (the rest is under docs/), and every page it links exists."""
    readme = (REPO_ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 200
    for page in PAGES:
        for link in re.findall(r"\]\(([^)#]+)\)", page.read_text()):
            if not link.startswith("http"):
                assert (page.parent / link).exists(), f"{page.name} links to missing {link}"


def test_the_path_of_one_flight_names_at_most_ten_files_each_where_it_says():
    """docs/architecture.md follows one flight from its landing file to its prediction: the
    engineer picking the project up opens at most ten files, and each is where it says."""
    page = (REPO_ROOT / "docs" / "architecture.md").read_text()
    path = page.split("## The path of one flight", 1)[1].split("\n## ", 1)[0]
    steps = path.split("\n\nAround those", 1)[0]
    named = set(re.findall(r"`((?:ingest|ml|orchestration|dbt_project)/[\w/.]+\.\w+)`", steps))
    named |= {
        f"dbt_project/models/staging/{name}"
        for name in re.findall(r"`(stg_\w+\.sql)`", steps)  # named beside their folder's first
    }
    assert 5 <= len(named) <= 10, sorted(named)
    for file in named:
        assert (REPO_ROOT / file).is_file(), f"docs/architecture.md names {file}: not there"
