"""Command-line mistakes: one line on stderr saying what is wrong and what to do, exit code 2,
and nothing written or run before the line."""

import pytest

from orchestration.cli import main


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["run", "--from", "2013-03-10", "--to", "2013-03-01"], "--from 2013-03-10 is after --to"),
        (["run", "--from", "2013-03-10"], "--from and --to go together"),
        (
            ["run", "--score-from", "2013-12-01", "--score-to", "2013-11-01"],
            "--score-from 2013-12-01 is after --score-to 2013-11-01",
        ),
        (["run", "--from", "2012-12-30", "--to", "2013-01-02"], "within the pipeline's days"),
        (["run", "--no-export"], "has no feed files, there is no warehouse yet"),
        (["publish"], "there is no warehouse at"),
    ],
)
def test_a_command_line_mistake_is_one_line_and_exit_code_2(home, capsys, argv, says):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0], err
    assert not any(home.landing.rglob("*.csv"))  # nothing exported before the mistake was seen


def test_an_unknown_engine_is_refused_before_anything_runs(home, capsys, monkeypatch):
    monkeypatch.setenv("FLIGHTLINE_ENGINE", "sparky")
    assert main(["run", "--no-train", "--no-score"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "flightline runs on duckdb or spark" in err[0], err
    assert not home.landing.exists() and not home.warehouse.exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["run"],
        ["replay"],
        ["ingest"],
        ["publish"],
        ["ui"],
        ["serve"],
        ["feeds", "export"],
        ["feeds", "synth"],
        ["spark", "env"],
        ["spark", "stop"],
    ],
)
def test_every_command_explains_itself_with_defaults_formats_and_an_example(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    out = capsys.readouterr().out
    words = " ".join(out.split())  # argparse wraps to the terminal's width
    assert done.value.code == 0
    assert "examples:\n  flightline " + " ".join(argv) in out
    assert "Dates are YYYY-MM-DD" in words
    if argv == ["run"]:
        assert "--from YYYY-MM-DD" in words and "(default: 28)" in words


def test_ctrl_c_stops_the_command_with_one_line_and_exit_code_130(home, capsys, monkeypatch):
    """Dagster turns Ctrl-C into a failed step (DagsterExecutionInterruptedError): the
    launcher recognises it and stops the command; main says so in one line, no traceback."""
    from types import SimpleNamespace

    from orchestration import cli, launcher

    def failure(cls_name):
        error = SimpleNamespace(cls_name=cls_name, cause=None, message="")
        data = SimpleNamespace(error=error)
        return SimpleNamespace(event_type_value="STEP_FAILURE", event_specific_data=data)

    interrupted = SimpleNamespace(all_events=[failure("DagsterExecutionInterruptedError")])
    assert launcher._interrupted(interrupted)
    assert not launcher._interrupted(SimpleNamespace(all_events=[failure("ValueError")]))

    def interrupted_command(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(
        cli.parser().__class__,
        "parse_args",
        lambda self, argv=None: SimpleNamespace(handler=interrupted_command),
    )
    assert main(["ingest"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["flightline: stopped (Ctrl-C)"]


def test_the_command_line_answers_without_importing_dagster_or_dbt():
    """`flightline --help` (and a mistake's one line) in ~0.1 s: Dagster, dagster-dbt and
    dbt (~2.5 s) are imported by the commands that run something, when they do."""
    import subprocess
    import sys

    code = (
        "import sys, orchestration.cli as cli; cli.parser().format_help(); "
        "print(sorted(m for m in ('dagster', 'dagster_dbt', 'dbt', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_the_command_ends_with_its_code_its_output_written_and_atexit_run(home):
    """The `flightline` command ends without tearing the interpreter down (orchestration/
    cli.py, entry): its exit code, its buffered output (a pipe's stdout is), its atexit
    handlers and a mistake's traceback are as at any exit."""
    import os
    import subprocess
    import sys

    def flightline(*argv: str, before: str = "pass") -> subprocess.CompletedProcess:
        code = (
            "import atexit, sys; import orchestration.cli as cli; "
            f"atexit.register(print, 'atexit ran'); {before}; "
            f"sys.argv = ['flightline', *{list(argv)!r}]; cli.entry()"
        )
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, env=dict(os.environ)
        )

    exported = flightline("feeds", "export", "--until", "2013-01-01")
    assert exported.returncode == 0, exported.stderr
    assert exported.stdout.startswith("feeds export to ") and exported.stdout.endswith(
        "atexit ran\n"
    )
    refused = flightline("run", "--from", "2013-01-05")
    assert refused.returncode == 2 and "--from and --to go together" in refused.stderr
    assert refused.stdout == "atexit ran\n"
    failed = flightline("publish", before="cli.cmd_publish = lambda args: 1 / 0")
    assert failed.returncode == 1 and "ZeroDivisionError" in failed.stderr
    assert failed.stdout == "atexit ran\n"


@pytest.mark.parametrize(("environment", "huge_pages"), [(None, False), ("1", True)])
def test_numpy_asks_for_no_huge_pages_in_flightline_unless_the_environment_says(
    environment, huge_pages
):
    """orchestration/__init__.py sets NumPy's own switch before NumPy is imported (a cold
    year's model step ~2.5 s faster on this project's machines); a value already in the
    environment is kept, and the processes flightline starts inherit it."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    if environment is not None:
        env["NUMPY_MADVISE_HUGEPAGE"] = environment
    code = (
        "import os, subprocess, sys; import orchestration.cli; import numpy; "
        "from numpy._core import multiarray; "
        # NumPy's own reading of the switch (private: "gone" if a NumPy drops it)
        "ask = getattr(multiarray, '_get_madvise_hugepage', lambda: 'gone'); "
        "child = subprocess.run([sys.executable, '-c', "
        "'import os; print(os.environ[\"NUMPY_MADVISE_HUGEPAGE\"])'], capture_output=True, "
        "text=True).stdout.strip(); "
        "print(ask(), child)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    numpy_reads, child_has = out.stdout.split()
    assert child_has == (environment or "0")
    if numpy_reads == "gone":
        pytest.skip("this NumPy no longer says whether it asks for huge pages")
    assert numpy_reads == str(huge_pages)
