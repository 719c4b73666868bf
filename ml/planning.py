"""Which days the inference pipeline scores: plain decisions, tested directly."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

# Train on flights before this day by default; score the quarter from it.
DEFAULT_CUTOFF = date(2013, 10, 1)
# Fewer labelled training rows than this and training refuses to run.
MIN_TRAINING_ROWS = 1000
# More labelled rows than this before the cutoff and training draws a sample of the flights
# (ml.training.training_set): training time and memory stop growing with history. 2013's
# ~250k rows before October are all kept; 30M flights a year keep ~1.3% of them.
MAX_TRAINING_ROWS = 300_000


def days_to_score(
    feature_days: Iterable[str],
    scored_by_champion: Iterable[str],
    rebuilt: tuple[str, str] | None,
) -> list[str]:
    """Days with features that the current champion has not scored, plus days whose
    features were just rebuilt (their scores may be stale)."""
    available = set(feature_days)
    todo = available - set(scored_by_champion)
    if rebuilt is not None:
        todo |= {day for day in available if rebuilt[0] <= day <= rebuilt[1]}
    return sorted(todo)
