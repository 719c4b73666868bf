"""Model selection by time (ml/selection.py): every candidate on every row, the best chosen,
the refusal of a history too short, the training rows' fingerprint. A whole training run is
in test_training.py."""

from datetime import date

import duckdb
import pandas as pd
import pytest

from ml.features import read_features
from ml.selection import TrainingError, fingerprint, train_models
from ml.training_config import TrainingConfig

pytestmark = pytest.mark.e2e  # on a built warehouse: `make test`, not `make test-fast`

CONFIG = TrainingConfig(cutoff=date(2013, 2, 7), validation_days=7)


def test_every_candidate_is_fitted_on_every_row_and_the_best_is_the_model(six_weeks):
    """Each candidate once, on every training row, scored on the validation window; the
    model is the best by ROC AUC, its metrics that row's; deterministic."""
    from ml.candidates import candidates

    con = duckdb.connect(str(six_weeks.warehouse), read_only=True)
    frame = read_features(con, labelled_only=True)
    con.close()
    first, second = train_models(frame, CONFIG), train_models(frame, CONFIG)
    pd.testing.assert_frame_equal(first.comparison, second.comparison)

    comparison = first.comparison.set_index("candidate")
    assert sorted(comparison.index) == sorted(name for name, *_ in candidates())
    assert set(comparison.training_rows) == {first.training_rows}
    assert set(comparison.rows) == {first.validation_rows}
    assert first.chosen == comparison.roc_auc.idxmax() == first.comparison.candidate.iloc[0]
    assert first.metrics["roc_auc"] == comparison.roc_auc.max()
    assert comparison.roc_auc.max() > comparison.loc["route_baseline"].roc_auc  # not vacuous


def test_training_without_enough_history_says_so(six_weeks):
    con = duckdb.connect(str(six_weeks.warehouse), read_only=True)
    frame = read_features(con, labelled_only=True)
    con.close()
    with pytest.raises(TrainingError, match="not enough labelled features before the cutoff"):
        train_models(frame, TrainingConfig(cutoff=date(2013, 1, 5), validation_days=7))


def test_the_data_fingerprint_is_the_rows_content_not_their_order(six_weeks):
    con = duckdb.connect(str(six_weeks.warehouse), read_only=True)
    frame = read_features(con, labelled_only=True).head(2000)
    con.close()
    shuffled = frame.sample(frac=1.0, random_state=1)
    changed = frame.copy()
    changed.loc[changed.index[7], "distance_miles"] += 1

    assert fingerprint(shuffled) == fingerprint(frame)
    assert fingerprint(changed) != fingerprint(frame)
    assert fingerprint(frame.iloc[1:]) != fingerprint(frame)


@pytest.mark.filterwarnings("ignore:Skipping features without any observed values")
def test_the_logistic_regressions_median_imputes_as_scikit_learns_median():
    """ml.candidates.median, SimpleImputer's statistic, gives what strategy="median" gives: odd
    and even counts, ties, a column with no value (dropped)."""
    import numpy as np
    from sklearn.impute import SimpleImputer

    from ml.candidates import median

    rng = np.random.default_rng(7)
    x = rng.normal(size=(1001, 5))
    x[rng.random(x.shape) < 0.3] = np.nan
    x[:, 1][: x.shape[0] // 2] = np.nan  # an even count left, say
    x[:, 4] = np.nan
    x[:, 3] = np.round(x[:, 3])  # ties
    ours = SimpleImputer(strategy=median, add_indicator=True).fit(x)
    stock = SimpleImputer(strategy="median", add_indicator=True).fit(x)
    assert np.array_equal(ours.statistics_, stock.statistics_, equal_nan=True)
    assert np.array_equal(ours.transform(x), stock.transform(x), equal_nan=True)
    assert ours.transform(x).shape == stock.transform(x).shape
