"""The defaults of training: the cutoff, and the bounds on the training set's size."""

from __future__ import annotations

from datetime import date

# Train on flights before this day by default; score the quarter from it.
DEFAULT_CUTOFF = date(2013, 10, 1)
# Validate on this many days just before the cutoff (time-ordered: flights of one day share
# weather and congestion, a random split would leak it). Every default of it reads this.
VALIDATION_DAYS = 28
# Fewer labelled training rows than this and training refuses to run.
MIN_TRAINING_ROWS = 1000
# More labelled rows than this before the cutoff and training draws a sample of the flights
# (ml.training.training_set): training time and memory stop growing with history. 2013's
# ~250k rows before October are all kept; 30M flights a year keep ~1.3% of them.
MAX_TRAINING_ROWS = 300_000
