"""Permutation importance (ml/selection.py): scikit-learn's, to the last bit, with the copies
scored together; and the boosted trees' on their encoded rows equal to the whole pipeline's
on the raw rows, feature by feature."""

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance
from sklearn.metrics import roc_auc_score

from ml import selection
from ml.candidates import SEED, gradient_boosting, logistic_regression
from ml.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from ml.selection import feature_importance


def _rows(n: int, rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame(
        {name: rng.normal(size=n) for name in NUMERIC_FEATURES}
        | {name: rng.choice(["a", "b", "c", None], size=n) for name in CATEGORICAL_FEATURES}
    )[FEATURES]
    for name in NUMERIC_FEATURES[:3]:
        frame.loc[frame.sample(frac=0.1, random_state=1).index, name] = np.nan
    return frame


def test_importance_on_encoded_rows_is_the_pipelines(monkeypatch):
    scored = []
    ours = selection.permutation_importance
    monkeypatch.setattr(
        selection,
        "permutation_importance",
        lambda estimator, *args, **kwargs: scored.append(estimator) or ours(estimator, *args),
    )
    rng = np.random.default_rng(7)
    x = _rows(2000, rng)
    signal = x[NUMERIC_FEATURES[0]].fillna(0) + (x[CATEGORICAL_FEATURES[0]] == "a")
    y = (signal + rng.normal(scale=0.5, size=len(x)) > 0.5).astype(int).to_numpy()
    model = gradient_boosting(max_iter=20).fit(x, y)
    fast = feature_importance(model, x, y, rows=500).set_index("feature").importance
    sample = x.sample(n=500, random_state=SEED)
    plain = permutation_importance(
        model,
        sample,
        y[x.index.get_indexer(sample.index)],
        scoring="roc_auc",
        n_repeats=3,
        random_state=SEED,
        n_jobs=1,
    ).importances_mean
    assert scored == [model[-1]]  # the classifier alone, on the encoded rows
    assert np.allclose(fast[FEATURES].to_numpy(), plain, rtol=0, atol=1e-12)
    assert fast.abs().max() > 0.01  # the signal's features matter: not a vacuous compare


def _signal(x: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    signal = x[NUMERIC_FEATURES[0]].fillna(0) + (x[CATEGORICAL_FEATURES[0]] == "a")
    signal += 0.5 * x[NUMERIC_FEATURES[1]].fillna(0)
    return (signal + rng.normal(scale=0.5, size=len(x)) > 0.5).astype(int).to_numpy()


def test_the_copies_scored_together_give_scikit_learns_importances_to_the_last_bit():
    """The boosted trees' classifier on encoded rows and the logistic regression's whole
    pipeline on raw rows (pandas columns of strings and missing values), five columns'
    copies at once (not a divisor of 36: the last group is smaller)."""
    rng = np.random.default_rng(11)
    x = _rows(600, rng)
    y = _signal(x, rng)
    boosted = gradient_boosting(max_iter=20).fit(x, y)
    cases = [
        (boosted[-1], boosted[:-1].transform(x)[FEATURES]),
        (logistic_regression().fit(x, y), x),
    ]
    for model, rows in cases:
        theirs = permutation_importance(
            model, rows, y, scoring="roc_auc", n_repeats=3, random_state=SEED, n_jobs=1
        ).importances_mean
        ours = selection.permutation_importance(model, rows, y, 3, SEED, columns_at_once=5)
        assert list(ours.index) == list(rows.columns)
        assert np.array_equal(ours.to_numpy(), theirs)
        assert ours.abs().max() > 0.01  # the signal's features matter: not a vacuous compare
    # one repeat, another seed, every column at once: still theirs
    theirs = permutation_importance(
        cases[0][0], cases[0][1], y, scoring="roc_auc", n_repeats=1, random_state=3
    ).importances_mean
    ours = selection.permutation_importance(cases[0][0], cases[0][1], y, 1, 3, 36)
    assert np.array_equal(ours.to_numpy(), theirs)


def test_a_confident_model_is_ranked_by_its_decision_function_as_scikit_learn_ranks_it():
    """scikit-learn's "roc_auc" scorer ranks by the decision function where there is one:
    a confident logistic regression's probabilities round to ties (1.0) that it keeps
    apart, so scoring by probabilities would give other importances."""
    rng = np.random.default_rng(3)
    x = _rows(600, rng)
    y = (x[NUMERIC_FEATURES[0]].fillna(0) + 0.05 * rng.normal(size=len(x)) > 0).astype(int)
    y = y.to_numpy()
    model = logistic_regression(C=1e4).fit(x, y)
    probabilities = model.predict_proba(x)[:, 1]
    assert (probabilities == 1.0).sum() > 20  # saturated: ties the decision function lacks
    theirs = permutation_importance(
        model, x, y, scoring="roc_auc", n_repeats=3, random_state=SEED, n_jobs=1
    ).importances_mean
    ours = selection.permutation_importance(model, x, y, 3, SEED, columns_at_once=4)
    assert np.array_equal(ours.to_numpy(), theirs)
    by_probability = permutation_importance(
        model,
        x,
        y,
        scoring=lambda m, rows, t: roc_auc_score(t, m.predict_proba(rows)[:, 1]),
        n_repeats=3,
        random_state=SEED,
    ).importances_mean
    assert not np.array_equal(by_probability, theirs)  # the case tells the two apart
