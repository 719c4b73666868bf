"""The examples each `flightline COMMAND --help` ends with (tests/orchestration/test_cli.py
holds every command to one), and the subcommands' parsers that show them."""

import argparse

EXAMPLES = {
    "export": [
        "flightline feeds export --until 2013-03-31   # the world at the end of March 31",
        "flightline feeds export --from 2013-04-01 --until 2013-04-01   # one more evening",
    ],
    "synth": ["flightline feeds synth --flights 1000000   # a synthetic year, for scale"],
    "run": [
        "flightline run                                  # whatever landed, end to end",
        "flightline run --from 2013-01-01 --to 2013-12-31   # rebuild a window",
        "flightline run --retrain --cutoff 2013-11-01    # train again; the gate decides",
        "flightline run --score-from 2013-11-01 --score-to 2013-11-30",
    ],
    "replay": ["flightline replay --from 2013-10-01 --to 2013-10-07   # a week of evenings"],
    "ingest": [
        "flightline ingest",
        "flightline ingest --accept data/quarantine/actuals/<file>   # a held correction",
    ],
    "publish": ["flightline publish"],
    "ui": ["flightline ui --port 3000   # then http://localhost:3000"],
    "debug": [
        "flightline debug 5f0c…   # the run's failed step, on its recorded inputs",
        "python -m pdb -m orchestration.cli debug 5f0c… predictions   # stop where it fails",
    ],
    "env": [
        "flightline spark env   # exports; for dbt by hand on Spark:",
        'eval "$(flightline spark env)" && cd dbt_project && dbt build',
    ],
    "stop": ["flightline spark stop   # the JVM goes; the next Spark step starts it again"],
    "serve": [
        "flightline serve   # then curl localhost:8000/flights/<flight_id>/score",
    ],
}


class _Help(argparse.RawDescriptionHelpFormatter):
    """Each option's default after its help (unless it has none or says it), examples kept as
    written."""

    def _get_help_string(self, action: argparse.Action) -> str:
        help = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in help:
            return help
        return f"{help} (default: {action.default})"


def command(commands, name: str, help: str) -> argparse.ArgumentParser:
    """The subcommand `name`, its help ending with its examples."""
    examples = "\n".join(f"  {line}" for line in EXAMPLES.get(name, []))
    return commands.add_parser(
        name,
        help=help,
        description=help,
        formatter_class=_Help,
        epilog=(f"examples:\n{examples}\n\n" if examples else "")
        + "Dates are YYYY-MM-DD. Data directory: $FLIGHTLINE_HOME, or data/ in the checkout.",
    )
