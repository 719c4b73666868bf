"""Permutation importance of the boosted trees on their encoded rows equals that of the whole
pipeline on the raw rows (ml/selection.py's shortcut), feature by feature."""

import numpy as np
import pandas as pd
from sklearn.inspection import permutation_importance

from ml.candidates import SEED, gradient_boosting
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
    from ml import selection

    scored = []
    monkeypatch.setattr(
        selection,
        "permutation_importance",
        lambda estimator, *args, **kwargs: (
            scored.append(estimator) or permutation_importance(estimator, *args, **kwargs)
        ),
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
