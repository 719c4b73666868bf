"""Imported once by the code server's forkserver, before it forks each run's process
(orchestration/run_workers.py). A module that fails to import is left to the runs that need
it, which import it themselves as without the forkserver: Python's forkserver skips a
preload that raises ImportError but stops on any other error, and every run with it."""

import importlib
import warnings

from orchestration.run_workers import MODULES

for _module in MODULES:
    try:
        importlib.import_module(_module)
    except Exception as error:  # the run that needs it raises it again, in its step
        warnings.warn(f"the runs' forkserver did not import {_module}: {error!r}", stacklevel=1)
