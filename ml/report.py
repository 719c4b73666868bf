"""Plots and the model card of a training run (PNG and markdown bytes, no files)."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers and CI

import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from ml.train import TrainingResult


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def roc_plot(result: TrainingResult) -> bytes:
    figure, axis = plt.subplots(figsize=(4.5, 4))
    fpr, tpr, _ = roc_curve(result.validation_labels, result.validation_scores)
    axis.plot(fpr, tpr, label=f"{result.chosen} (AUC {result.metrics['roc_auc']:.3f})")
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axis.set_xlabel("false positive rate")
    axis.set_ylabel("true positive rate")
    axis.set_title("ROC, validation window")
    axis.legend(loc="lower right", fontsize=7)
    return _png(figure)


def calibration_plot(result: TrainingResult) -> bytes:
    figure, axis = plt.subplots(figsize=(4.5, 4))
    table = result.calibration
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axis.plot(table.mean_predicted, table.observed_rate, marker="o")
    axis.set_xlabel("mean predicted probability")
    axis.set_ylabel("observed delay rate")
    axis.set_title("Calibration, validation window")
    return _png(figure)


def importance_plot(result: TrainingResult, top: int = 15) -> bytes:
    table = result.importance.head(top).iloc[::-1]
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    axis.barh(table.feature, table.importance)
    axis.set_xlabel("drop in ROC AUC when permuted")
    axis.set_title("Feature importance (validation)")
    axis.tick_params(axis="y", labelsize=7)
    return _png(figure)


def model_card(result: TrainingResult, version: str, code: str) -> str:
    metrics = result.metrics
    top = result.importance.head(10)
    lines = [
        f"# Model {version}",
        "",
        f"Predicts, the day before, whether a flight out of New York arrives 15+ minutes late "
        f"or is cancelled or diverted. Algorithm: `{result.chosen}` ({result.family}), "
        f"params `{result.params}`. Code version `{code}`.",
        "",
        "## Data",
        "",
        f"- training window: {result.windows['training_start']} .. "
        f"{result.windows['training_end']} ({result.training_rows:,} flights)",
        f"- validation window: {result.windows['validation_start']} .. "
        f"{result.windows['validation_end']} ({result.validation_rows:,} flights), time-ordered",
        "- the model is the one fitted on the training window and measured on the "
        "validation window (not refitted), so the metrics below are its own",
        f"- data fingerprint `{result.data_fingerprint[:16]}`",
        "",
        "## Validation metrics",
        "",
        "| metric | value |",
        "|---|---|",
        *[f"| {name} | {value:.4f} |" for name, value in metrics.items() if name != "rows"],
        f"| decision threshold (max F1) | {result.threshold:.2f} "
        f"(F1 {result.f1_at_threshold:.3f}) |",
        "",
        "## Candidates compared",
        "",
        "Stage `sample`: fitted on a sample of the training rows and not kept; `final`: "
        "fitted on every training row (successive halving, `ml/train.py`).",
        "",
        result.comparison[
            ["candidate", "stage", "training_rows", "roc_auc", "pr_auc", "log_loss", "brier"]
        ]
        .round(4)
        .to_markdown(index=False),
        "",
        "## Top features",
        "",
        top.round(4).to_markdown(index=False),
        "",
        "## Calibration",
        "",
        result.calibration.round(4).to_markdown(index=False),
        "",
        "## Caveats",
        "",
        "- `forecast_*` features come from a stand-in forecast feed (the weather later "
        "observed in the hour): real forecasts are worse, so live performance will be lower.",
        "- Trained on one year (2013) of three New York airports; seasonality beyond the "
        "training months is unseen (month is deliberately not a feature).",
        "- Rolling delay rates are empty in the first weeks of the data (cold start).",
        "",
    ]
    return "\n".join(lines)


def importance_markdown(result: TrainingResult, top: int = 10) -> str:
    return result.importance.head(top).round(4).to_markdown(index=False)


def score_histogram(scores: np.ndarray, bins: int = 10) -> str:
    counts, edges = np.histogram(scores, bins=bins, range=(0.0, 1.0))
    rows = ["| score | flights |", "|---|---|"]
    rows += [
        f"| {lo:.1f}-{hi:.1f} | {count:,} |"
        for lo, hi, count in zip(edges[:-1], edges[1:], counts, strict=True)
    ]
    return "\n".join(rows)
