"""Population stability of features and scores against the champion's training window.

PSI = sum over bins of (actual - expected) * ln(actual / expected). Numeric features are
binned at the reference's deciles (missing values are a bin of their own); categorical
ones by category, rare reference categories (< 1%) and unseen ones pooled as "other".
Common reading: < 0.1 stable, 0.1 - 0.25 moderate shift, > 0.25 major shift.

Not wired into the pipeline yet (issue 4). What a first wiring showed, on one scored day
against a 5-week training window: weather features scored PSI 3 to 22 and the score 7 on
ordinary days, because one day's weather is ~70 hourly readings in a narrow range; daily
PSI alerts every day. The monitor needs a pooled trailing window (or a reference of daily
PSIs) before its thresholds mean anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ml.features import CATEGORICAL_FEATURES, NUMERIC_FEATURES

# Constant within a flight date by construction (calendar), or one value per carrier or
# airport and day (16 carriers, 3 airports): a single day's distribution of these is a few
# spikes whatever the world does, so their daily PSI is large and says nothing. They are
# watched through what they feed: the score's PSI and the daily performance.
NOT_MONITORED = frozenset(
    {"day_of_week", "is_weekend", "days_to_nearest_holiday"}
    | {f for f in NUMERIC_FEATURES if f.startswith(("origin_", "carrier_"))}
)
MONITORED_NUMERIC = [f for f in NUMERIC_FEATURES if f not in NOT_MONITORED]
SCORE = "score"
EPSILON = 1e-4
MISSING = "__missing__"
OTHER = "__other__"


@dataclass(frozen=True)
class DriftThresholds:
    warn: float = 0.1
    alert: float = 0.25

    def status(self, value: float) -> str:
        if value > self.alert:
            return "alert"
        if value > self.warn:
            return "warn"
        return "ok"


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = np.clip(np.asarray(expected, dtype=float), EPSILON, None)
    actual = np.clip(np.asarray(actual, dtype=float), EPSILON, None)
    expected, actual = expected / expected.sum(), actual / actual.sum()
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def _numeric_bins(values: pd.Series, edges: list[float]) -> np.ndarray:
    array = values.to_numpy(dtype=float)
    bins = np.digitize(array, edges[1:-1], right=True)
    bins[np.isnan(array)] = len(edges) - 1
    return np.bincount(bins, minlength=len(edges))


def _categorical_counts(values: pd.Series, categories: list[str]) -> np.ndarray:
    labels = values.astype("object").where(values.notna(), MISSING)
    labels = labels.where(labels.isin(categories), OTHER)
    return labels.value_counts().reindex(categories, fill_value=0).to_numpy()


def build_reference(frame: pd.DataFrame, scores: np.ndarray | None = None) -> dict[str, Any]:
    """Bins and proportions of every monitored feature (and the score) in the reference."""
    reference: dict[str, Any] = {}
    columns = {name: frame[name] for name in MONITORED_NUMERIC}
    if scores is not None:
        columns[SCORE] = pd.Series(scores)
    for name, values in columns.items():
        present = values.dropna().to_numpy(dtype=float)
        edges = np.unique(np.quantile(present, np.linspace(0, 1, 11))) if len(present) else []
        edges = [-np.inf, *edges[1:-1].tolist(), np.inf] if len(edges) > 2 else [-np.inf, np.inf]
        counts = _numeric_bins(values, edges)
        reference[name] = {"kind": "numeric", "edges": edges, "expected": counts.tolist()}
    for name in CATEGORICAL_FEATURES:
        values = frame[name].astype("object").where(frame[name].notna(), MISSING)
        shares = values.value_counts(normalize=True)
        categories = [*sorted(shares[shares >= 0.01].index), OTHER]
        if MISSING not in categories:
            categories.append(MISSING)
        counts = _categorical_counts(frame[name], categories)
        reference[name] = {
            "kind": "categorical",
            "categories": categories,
            "expected": counts.tolist(),
        }
    return reference


def population_stability(
    reference: dict[str, Any], frame: pd.DataFrame, scores: np.ndarray | None = None
) -> dict[str, float]:
    """PSI of each monitored column of `frame` (one day, say) against the reference."""
    result = {}
    for name, spec in reference.items():
        if name == SCORE:
            if scores is None:
                continue
            values = pd.Series(scores)
        else:
            values = frame[name]
        if spec["kind"] == "numeric":
            actual = _numeric_bins(values, spec["edges"])
        else:
            actual = _categorical_counts(values, spec["categories"])
        result[name] = psi(spec["expected"], actual)
    return result
