"""A training run end to end: the training set read from the warehouse, the candidates
compared (ml/selection.py), the chosen model registered with its artifacts and drift reference."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import duckdb
import pandas as pd

from ml import registry
from ml.drift import REFERENCE_FILE, build_reference
from ml.features import FEATURES, WarehouseSql, read_features_at_most
from ml.registry import RegisteredModel
from ml.report import calibration_plot, importance_plot, model_card, roc_plot
from ml.selection import TrainingResult, split, train_models
from ml.training_config import TrainingConfig


@dataclass
class TrainingRun:
    model: RegisteredModel
    result: TrainingResult | None
    reused: bool
    """True when a model with the same data, parameters and code was already registered."""


def train_and_register(
    con: duckdb.DuckDBPyConnection,
    models_dir: Path,
    repo: Path,
    config: TrainingConfig | None = None,
    trigger: str = "manual",
    frame: pd.DataFrame | None = None,
) -> TrainingRun:
    """Train on `frame` (the persisted training set) or, without it, on the labelled
    features before the cutoff read from the warehouse."""
    config = config or TrainingConfig()
    if frame is None:
        frame = training_set(con, config)
    result = train_models(frame, config)
    code = registry.code_version(repo)
    version = registry.model_version(
        str(config.cutoff),
        result.data_fingerprint,
        {"chosen": result.chosen, **result.params, "validation_days": config.validation_days},
        code,
    )
    existing = registry.get(con, version)
    if existing is not None:
        return TrainingRun(model=existing, result=result, reused=True)
    record = {
        "model_version": version,
        "trigger": trigger,
        "cutoff_date": str(config.cutoff),
        **result.windows,
        "training_rows": result.training_rows,
        "validation_rows": result.validation_rows,
        "code_version": code,
        "data_fingerprint": result.data_fingerprint,
        "algorithm": result.chosen,
        "params": result.params,
        "metrics": {**result.metrics, **_family_aucs(result)},
        "threshold": result.threshold,
        "artifact_path": str(models_dir / version),
    }
    files = {
        "model_card.md": model_card(result, version, code).encode(),
        "metadata.json": json.dumps(
            {
                **record,
                "comparison": result.comparison.to_dict(orient="records"),
                "features": FEATURES,
            },
            indent=2,
            default=str,
        ).encode(),
        "roc.png": roc_plot(result),
        "calibration.png": calibration_plot(result),
        "importance.png": importance_plot(result),
        # What drift is measured against: the training rows' features and the validation
        # scores, from the frames in hand (ml.drift.reference_for rebuilt it from the
        # warehouse at the first monitoring run: ~9 s at 10M flights).
        REFERENCE_FILE: json.dumps(
            build_reference(split(frame, config)[0], result.validation_scores)
        ).encode(),
    }
    model = registry.register(con, record, result.model, files)
    return TrainingRun(model=model, result=result, reused=False)


def training_set(con: WarehouseSql, config: TrainingConfig) -> pd.DataFrame:
    """Labelled feature rows before the cutoff: what a training run learns and validates on.

    At most `config.max_training_rows` (about): past that, a deterministic sample of the
    flights (ml.features.sample_condition), drawn in the engine's SQL, so a 30M-flight history never
    sits in pandas whole. 2013's 250k rows are all kept."""
    before = config.cutoff - timedelta(days=1)
    frame, _ = read_features_at_most(
        con, None, before, config.max_training_rows, labelled_only=True
    )
    return frame.reset_index(drop=True)


def _family_aucs(result: TrainingResult) -> dict[str, float]:
    """The best validation ROC AUC of each model family (baseline, logistic, boosting): the
    comparison lists the candidates best first."""
    best = result.comparison.drop_duplicates("family").set_index("family").roc_auc
    return {f"{family}_roc_auc": float(auc) for family, auc in best.items()}
