"""Model selection by time: compare the candidates on the weeks before the cutoff, keep the best.

Training set: labelled feature rows with flight_date < cutoff. Validation: the last
`validation_days` before the cutoff, never a random split (flights of a day share weather
and congestion; a random split leaks them). Every candidate is fitted on every training row
and scored on the validation window; the best by ROC AUC is the model.

Successive halving (every candidate first on a third of the rows, the best two again on all)
was used while the grid had six candidates; with fewer it costs more than it saves (2013:
logistic regression and two boosted models on every row 20 s, against 9 s of sampled fits
plus the two finalists' 15 s), and a third of the rows ranked the boosted candidates by
noise (their sampled ROC AUCs within 0.002 of each other at a ninth, reordered by another
seed at a third). The grid is now three (ml/candidates.py says what left it and why).

The model is deliberately not refitted on the validation days: its validation metrics
describe the artifact exactly, and the promotion gate can score a champion on a later
candidate's window that it never saw (a refitted champion scored 0.73 on a window it had
trained on, against 0.71 held out).
Deterministic: the same rows and code give the same metrics and predictions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.utils import check_random_state

from ml.candidates import SEED, candidates
from ml.features import FEATURES, KEY_COLUMNS, LABEL
from ml.metrics import best_f1_threshold, calibration_table, classification_metrics
from ml.training_config import TrainingConfig


class TrainingError(Exception):
    """Training cannot run on the data it was given; the message says why."""


@dataclass
class TrainingResult:
    config: TrainingConfig
    chosen: str
    family: str
    params: dict[str, Any]
    model: Any
    metrics: dict[str, float]
    threshold: float
    f1_at_threshold: float
    comparison: pd.DataFrame
    calibration: pd.DataFrame
    importance: pd.DataFrame
    windows: dict[str, str]
    data_fingerprint: str
    training_rows: int
    validation_rows: int
    validation_labels: np.ndarray = field(repr=False)
    validation_scores: np.ndarray = field(repr=False)


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of the training rows (keys, features, label), order-independent: the
    rows in flight_id order, a hash of each row's values (pandas' hash_pandas_object, on the
    values themselves: their text, astype(str), cost 11 s for 300k rows), then SHA-256."""
    ordered = frame.sort_values("flight_id", kind="stable")[[*KEY_COLUMNS, *FEATURES, LABEL]]
    hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()


def split(frame: pd.DataFrame, config: TrainingConfig) -> tuple[pd.DataFrame, pd.DataFrame]:
    labelled = frame[frame[LABEL].notna() & (frame.flight_date < config.cutoff)]
    train = labelled[labelled.flight_date < config.validation_start]
    validation = labelled[labelled.flight_date >= config.validation_start]
    if len(train) < config.min_training_rows or validation.empty:
        raise TrainingError(
            f"not enough labelled features before the cutoff {config.cutoff}: "
            f"{len(train)} training rows before {config.validation_start}, "
            f"{len(validation)} validation rows; load more days (flightline run)"
        )
    return train, validation


def train_models(frame: pd.DataFrame, config: TrainingConfig | None = None) -> TrainingResult:
    config = config or TrainingConfig()
    train, validation = split(frame, config)
    x_train, y_train = train[FEATURES], train[LABEL].astype(int).to_numpy()
    x_val, y_val = validation[FEATURES], validation[LABEL].astype(int).to_numpy()

    rows, fitted = [], {}
    for name, family, params, estimator in candidates():
        model = clone(estimator).fit(x_train, y_train)
        scores = model.predict_proba(x_val)[:, 1]
        fitted[name] = (family, params, scores, model)
        rows.append(
            {
                "candidate": name,
                "family": family,
                "training_rows": len(x_train),
                **classification_metrics(y_val, scores),
            }
        )
    comparison = (
        pd.DataFrame(rows)
        .sort_values(["roc_auc", "candidate"], ascending=[False, True])
        .reset_index(drop=True)
    )
    chosen = comparison.iloc[0].candidate
    family, params, scores, validation_model = fitted[chosen]
    threshold, f1 = best_f1_threshold(y_val, scores)

    labelled = pd.concat([train, validation])
    return TrainingResult(
        config=config,
        chosen=chosen,
        family=family,
        params=params,
        model=validation_model,
        metrics=classification_metrics(y_val, scores),
        threshold=threshold,
        f1_at_threshold=f1,
        comparison=comparison.reset_index(drop=True),
        calibration=calibration_table(y_val, scores),
        importance=feature_importance(validation_model, x_val, y_val),
        windows={
            "training_start": str(train.flight_date.min()),
            "training_end": str(train.flight_date.max()),
            "validation_start": str(validation.flight_date.min()),
            "validation_end": str(validation.flight_date.max()),
        },
        data_fingerprint=fingerprint(labelled),
        training_rows=len(train),
        validation_rows=len(validation),
        validation_labels=y_val,
        validation_scores=scores,
    )


IMPORTANCE_ROWS = 5000
"""Validation rows permutation importance is measured on (a fixed sample)."""
IMPORTANCE_REPEATS = 3
"""Shuffles of each feature's column, their drops averaged."""


def feature_importance(
    model: Any, x: pd.DataFrame, y: np.ndarray, rows: int = IMPORTANCE_ROWS
) -> pd.DataFrame:
    """Permutation importance (drop in ROC AUC) on a fixed sample of the validation rows.

    Each feature is scored 3 times on the sample: 108 scorings, the boosted trees' own
    predict ~10 us a row. On the 2013 champion, 5,000 rows (5.0 s) rank the features as
    10,000 did (9.4 s; the same top three, the same top five, Spearman 0.93 over the 36), as
    10,000 had ranked them as 20,000 (27 s; Spearman 0.92). It describes the model (the
    card's top features); it decides nothing.

    A pipeline whose preprocessing gives each feature one column of its own name (the
    boosted trees' ordinal encoding) is scored as its classifier on the encoded sample: the
    same importances (each column is encoded row by row, and every column is shuffled with
    the same seed; tests/ml/test_importance.py), without encoding the sample again for each
    of the 108 shuffles: ~13% less CPU on the 2013 champion."""
    sample = x.sample(n=min(rows, len(x)), random_state=SEED)
    scored, rows_scored = model, sample
    if isinstance(model, Pipeline) and len(model) > 1:
        encoded = model[:-1].transform(sample)
        if isinstance(encoded, pd.DataFrame) and sorted(encoded.columns) == sorted(FEATURES):
            scored, rows_scored = model[-1], encoded[FEATURES]
    importance = permutation_importance(
        scored,
        rows_scored,
        y[x.index.get_indexer(sample.index)],
        IMPORTANCE_REPEATS,
        SEED,
        columns_at_once=12 if scored is not model else 1,  # 36 encoded copies: ~0.7 GB more
    )
    return (
        pd.DataFrame({"feature": FEATURES, "importance": importance[FEATURES].to_numpy()})
        .sort_values("importance", ascending=False)
        .reset_index(drop=True)
    )


def permutation_importance(
    model: Any, x: pd.DataFrame, y: np.ndarray, repeats: int, seed: int, columns_at_once: int = 12
) -> pd.Series:
    """Each column's mean drop in ROC AUC when shuffled: the `importances_mean` of scikit-
    learn's `permutation_importance(model, x, y, scoring="roc_auc", n_repeats=repeats,
    random_state=seed)` (1.9), to the last bit (tests/ml/test_importance.py), in fewer calls.

    Its shuffles, replayed: one seed drawn from `seed`, a RandomState of it for each column,
    each repeat shuffling the column the previous one left; scored as its "roc_auc" scorer
    scores (`_ranked_by`). Where it scores each shuffled copy on its own (108 calls of 5,000
    rows for the 2013 champion), the copies of `columns_at_once` columns are scored together;
    a model scores each row on its own, so each copy's scores are the same. The champion's
    importance 4.15 -> 2.56 s: the boosted trees' per-call cost (each of 150 trees in turn)
    is paid 3 times, not 108. (Only a model that pays per call gains: a pipeline that encodes
    its rows first scores them a column at a time, `columns_at_once=1`, in less memory.)"""
    scores_of = _ranked_by(model)
    drawn = check_random_state(seed).randint(np.iinfo(np.int32).max + 1)
    baseline = roc_auc_score(y, scores_of(x))
    drops = np.empty((x.shape[1], repeats))
    for first in range(0, x.shape[1], columns_at_once):
        copies = []
        for position in range(first, min(first + columns_at_once, x.shape[1])):
            shuffle, order = np.random.RandomState(drawn), np.arange(len(x))
            column = x.iloc[:, position]
            for _ in range(repeats):
                shuffle.shuffle(order)
                column = column.iloc[order].set_axis(x.index)
                copy = x.copy()
                copy[x.columns[position]] = column
                copies.append(copy)
        scores = scores_of(pd.concat(copies, ignore_index=True))
        for index, copy_scores in enumerate(scores.reshape(len(copies), len(x))):
            drops[first + index // repeats, index % repeats] = baseline - roc_auc_score(
                y, copy_scores
            )
    return pd.Series(np.mean(drops, axis=1), index=x.columns)


def _ranked_by(model: Any):
    """What scikit-learn's "roc_auc" scorer ranks a binary classifier's rows by (1.9,
    response_method=("decision_function", "predict_proba")): its decision function where it
    has one, else the probability of class 1 (the labels' last class). Not the same thing:
    probabilities round confident rows to ties that the decision function keeps apart."""
    decision = getattr(model, "decision_function", None)
    if decision is not None:
        return decision
    return lambda rows: model.predict_proba(rows)[:, 1]
