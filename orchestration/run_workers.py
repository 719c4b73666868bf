"""What the code server's runs start from (orchestration/dagster_private/, fork_run_workers):
a forkserver that imported the code once, while the code is as it was then.

- The forkserver imports `orchestration.run_worker_imports`, which imports MODULES: the
  Definitions and what the steps import (scikit-learn, matplotlib, Great Expectations).
- `code_stamp()` is the project's Python code (and the sources YAML it reads at import) as of
  a moment. Once it changes (an edit to
  ml/, say), the server's next runs are spawned as Dagster spawns them, each importing the
  code anew, as before the forkserver: an edit reaches the next run without a reload.
  "Reload definitions" in the UI (a new code server) starts a new forkserver.

Python 3.11's forkserver leaves out the server's sys.path: these modules import in it because
the project is installed (`make install`, editable). Were they not, it would import nothing
and each run would import the code itself, as with Dagster's spawn.
"""

from ingest.settings import REPO_ROOT, source_stamp
from ingest.sources import FEEDS_YAML, INGEST_YAML, ML_YAML

MODULES = (
    "orchestration.definitions",
    "ml.expectations",
    "ml.report",
    "ml.training",
    "ml.promotion",
)
PRELOAD = "orchestration.run_worker_imports"
PACKAGES = ("ingest", "ml", "orchestration")
DECLARED = (FEEDS_YAML, INGEST_YAML, ML_YAML)
"""The dbt sources YAML the code reads at import (the feed catalog and the warehouse's own
tables: ingest/sources.py)."""


def code_stamp() -> tuple[int, int]:
    """(newest modification time, number) of the packages' Python files and of the dbt
    sources YAML the imported code reads (DECLARED): ~1 ms."""
    code = source_stamp((REPO_ROOT / name for name in PACKAGES), "*.py")
    declared = source_stamp(DECLARED)
    return max(code[0], declared[0]), code[1] + declared[1]
