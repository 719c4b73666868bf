"""What a training run is configured with, and the defaults every caller reads: the cutoff,
the validation window, and the bounds on the training set's size.

Kept free of scikit-learn and pandas so that the planner and the CLI read the defaults
without importing the training code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

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


@dataclass(frozen=True)
class TrainingConfig:
    cutoff: date = DEFAULT_CUTOFF
    validation_days: int = VALIDATION_DAYS
    min_training_rows: int = MIN_TRAINING_ROWS
    max_training_rows: int = MAX_TRAINING_ROWS

    @property
    def validation_start(self) -> date:
        return self.cutoff - timedelta(days=self.validation_days)
