"""The Dagster side of flightline: its Definitions, the CLI over them, the dbt fork server.

Dagster marks two APIs flightline relies on knowingly as preview or beta: per-partition
asset check results (`AssetCheckSpec(partitions_def=...)`) and single-run backfill policies.
Dagster warns at every definition that uses them, at import: in every process that loads
the Definitions (the CLI, `dagster dev`'s code server and each run it starts), ~100 lines of
a `dagster dev` console over an evening. Filtered here, before any module of this package
defines an asset (tests: pyproject.toml's filterwarnings).

NumPy's transparent huge pages are off in flightline's processes unless the environment
says otherwise (`NUMPY_MADVISE_HUGEPAGE`, NumPy's own switch, read when NumPy is imported:
set here, before this package imports pandas or NumPy, and inherited by every process it
starts). NumPy asks Linux for 2 MB pages for every array of 4 MB or more; on a virtual
machine whose memory the host backs on first touch (this project's 2-CPU machines), each
new huge page is memory never touched before, and the kernel time of a training run's first
large arrays was 3-5 s against 2.4 s (the logistic regression's fit 6.1-7.0 -> 3.8-4.3 s).
A cold 2013 year, alternating in the same hour: 48.1 / 50.2 / 50.0 s with them against
46.3 / 47.5 / 46.4 s without (the model step 16.3-17.8 -> 14.5-14.9 s), the same model.
Where huge pages pay (long-lived processes reusing large arrays), NUMPY_MADVISE_HUGEPAGE=1."""

import os
import warnings

os.environ.setdefault("NUMPY_MADVISE_HUGEPAGE", "0")

warnings.filterwarnings("ignore", message=".*is currently in beta.*")
warnings.filterwarnings("ignore", message=".*is currently in preview.*")
