"""The Dagster side of flightline: its Definitions, the CLI over them, the dbt fork server.

Dagster marks two APIs flightline relies on knowingly as preview or beta: per-partition
asset check results (`AssetCheckSpec(partitions_def=...)`) and single-run backfill policies.
Dagster warns at every definition that uses them, at import: in every process that loads
the Definitions (the CLI, `dagster dev`'s code server and each run it starts), ~100 lines of
a `dagster dev` console over an evening. Filtered here, before any module of this package
defines an asset (tests: pyproject.toml's filterwarnings)."""

import warnings

warnings.filterwarnings("ignore", message=".*is currently in beta.*")
warnings.filterwarnings("ignore", message=".*is currently in preview.*")
