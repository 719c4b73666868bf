"""Promotion: whether a trained candidate replaces the champion, and the change itself.

The gate scores the current champion on the candidate's own validation window (the window
the candidate never trained on) and promotes the candidate only if its ROC AUC beats the
champion's there by the margin (`MlSettings.promotion_margin`). The decision and its reason
are recorded on the candidate's registry row; promotion retires the previous champion in
the same transaction. Dagster runs the gate as the blocking check `beats_champion`
(orchestration/assets/training.py) and promotes in `ml/champion_model` only when it passed.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from ml import registry
from ml.features import LABEL, WarehouseSql, read_features_at_most
from ml.metrics import classification_metrics
from ml.scoring import predict_scores
from ml.training_config import MAX_TRAINING_ROWS


@dataclass
class GateDecision:
    promote: bool
    reason: str
    candidate_auc: float
    champion_version: str | None
    champion_auc: float | None


def evaluate_gate(
    con: duckdb.DuckDBPyConnection,
    candidate_version: str,
    margin: float,
    features: WarehouseSql | None = None,
) -> GateDecision:
    """Score the current champion on the candidate's validation window and decide.
    `features`: where the feature rows are (Spark's tables on the Spark engine); by default
    `con`, which holds the registry."""
    candidate = registry.get(con, candidate_version)
    if candidate is None:
        raise registry.RegistryError(f"unknown candidate model {candidate_version}")
    current = registry.champion(con)
    if current is not None and current.model_version == candidate_version:
        return GateDecision(
            True,
            "candidate is already the champion",
            candidate.validation_roc_auc,
            current.model_version,
            candidate.validation_roc_auc,
        )
    champion_auc = None
    if current is not None:
        window, _ = read_features_at_most(
            con if features is None else features,
            candidate.validation_start,
            candidate.validation_end,
            MAX_TRAINING_ROWS,
            labelled_only=True,
        )
        scores = predict_scores(current.load(), window)
        champion_auc = classification_metrics(window[LABEL].astype(int), scores)["roc_auc"]
    promote, reason = decide_promotion(candidate.validation_roc_auc, champion_auc, margin)
    return GateDecision(
        promote,
        reason,
        candidate.validation_roc_auc,
        current.model_version if current else None,
        champion_auc,
    )


def decide_promotion(
    candidate_auc: float, champion_auc: float | None, margin: float
) -> tuple[bool, str]:
    """The gate: promote when there is no champion, or when the candidate beats the
    champion's ROC AUC on the candidate's validation window by at least `margin`."""
    if champion_auc is None:
        return True, f"no champion yet; candidate ROC AUC {candidate_auc:.4f}"
    if candidate_auc >= champion_auc + margin:
        return True, (
            f"candidate ROC AUC {candidate_auc:.4f} beats the champion's {champion_auc:.4f} "
            f"on the same validation window by {candidate_auc - champion_auc:+.4f} "
            f"(margin {margin})"
        )
    return False, (
        f"candidate ROC AUC {candidate_auc:.4f} does not beat the champion's "
        f"{champion_auc:.4f} on the same validation window by the margin {margin} "
        f"({candidate_auc - champion_auc:+.4f})"
    )


def record_decision(
    con: duckdb.DuckDBPyConnection,
    version: str,
    promote: bool,
    reason: str,
    champion_auc: float | None,
) -> None:
    con.execute(
        """
        update ml.model_registry
        set decision = ?, decision_reason = ?, champion_roc_auc_on_validation = ?,
            decided_at = now()
        where model_version = ?
        """,
        ["promote" if promote else "reject", reason, champion_auc, version],
    )


def promote(con: duckdb.DuckDBPyConnection, version: str) -> None:
    """Make `version` the champion and retire the previous one, in one transaction."""
    model = registry.get(con, version)
    if model is None:
        raise registry.RegistryError(f"unknown model version {version}")
    con.execute("begin transaction")
    try:
        con.execute(
            "update ml.model_registry set status = 'retired' "
            "where status = 'champion' and model_version <> ?",
            [version],
        )
        con.execute(
            "update ml.model_registry set status = 'champion' where model_version = ?", [version]
        )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
