"""Model selection by time (ml/selection.py): successive halving, the refusal of a history too
short, the training rows' fingerprint. A whole training run is in test_training.py."""

from datetime import date

import duckdb
import pandas as pd
import pytest

from ml.features import read_features
from ml.selection import TrainingError, fingerprint, train_models
from ml.training_config import TrainingConfig

pytestmark = pytest.mark.e2e  # on a built warehouse: `make test`, not `make test-fast`

CONFIG = TrainingConfig(cutoff=date(2013, 2, 7), validation_days=7)


def test_candidates_are_compared_by_successive_halving(six_weeks, monkeypatch):
    """Past HALVING_MIN_ROWS every candidate is fitted on a sample first; the best two and the
    baseline again on every row, and the model is the best of those: deterministic, and the
    comparison says which fit each row describes."""
    import ml.selection

    con = duckdb.connect(str(six_weeks.warehouse), read_only=True)
    frame = read_features(con, labelled_only=True)
    con.close()
    monkeypatch.setattr(ml.selection, "HALVING_MIN_ROWS", 1000)
    first, second = train_models(frame, CONFIG), train_models(frame, CONFIG)
    pd.testing.assert_frame_equal(first.comparison, second.comparison)

    comparison = first.comparison
    final = comparison[comparison.stage == "final"].set_index("candidate")
    sampled = comparison[comparison.stage == "sample"].set_index("candidate")
    assert len(sampled) == 6 and len(final) == 3 and "route_baseline" in final.index
    assert set(final.training_rows) == {first.training_rows}
    assert set(sampled.training_rows) == {round(first.training_rows * ml.selection.HALVING_SHARE)}
    best_two = sampled.drop("route_baseline").roc_auc.nlargest(2).index
    assert set(final.index) == {*best_two, "route_baseline"}
    assert first.chosen == final.roc_auc.idxmax() == comparison.candidate.iloc[0]
    assert first.metrics["roc_auc"] == final.roc_auc.max()


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
