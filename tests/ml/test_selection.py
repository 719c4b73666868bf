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
