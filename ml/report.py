"""Plots and the model card of a training run (PNG and markdown bytes, no files)."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # headless: no display on servers and CI

import duckdb
import matplotlib.pyplot as plt
import numpy as np
from sklearn.metrics import roc_curve

from ml import registry
from ml.features import WarehouseSql
from ml.monitoring import POOLED_AUC_SQL
from ml.selection import IMPORTANCE_ROWS, TrainingResult

IMPORTANCE_UNIT = "drop in validation ROC AUC when the feature is shuffled"
OUT_OF_TIME = "## Out-of-time performance"


def _validation(result: TrainingResult) -> str:
    return f"{result.windows['validation_start']} .. {result.windows['validation_end']}"


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
    axis.set_title(f"ROC, validation {_validation(result)}", fontsize=9)
    axis.legend(loc="lower right", fontsize=7)
    return _png(figure)


def calibration_plot(result: TrainingResult) -> bytes:
    figure, axis = plt.subplots(figsize=(4.5, 4))
    table = result.calibration
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axis.plot(table.mean_predicted, table.observed_rate, marker="o")
    axis.set_xlabel("mean predicted probability")
    axis.set_ylabel("observed delay rate")
    axis.set_title(f"Calibration, validation {_validation(result)}", fontsize=9)
    return _png(figure)


def importance_plot(result: TrainingResult, top: int = 15) -> bytes:
    table = result.importance.head(top).iloc[::-1]
    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    axis.barh(table.feature, table.importance)
    axis.set_xlabel(IMPORTANCE_UNIT)
    axis.set_title(f"Permutation importance, validation {_validation(result)}", fontsize=9)
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
        "Each fitted on every training row and scored on the validation window "
        "(`ml/selection.py`); the first is the model.",
        "",
        result.comparison[["candidate", "training_rows", "roc_auc", "pr_auc", "log_loss", "brier"]]
        .round(4)
        .to_markdown(index=False),
        "",
        "## Top features",
        "",
        f"Permutation importance: the {IMPORTANCE_UNIT} ({IMPORTANCE_ROWS:,} validation rows, 3 "
        f"repeats). {top.feature.iloc[0]} at {top.importance.iloc[0]:.3f} means ROC AUC "
        f"{metrics['roc_auc']:.3f} falls to {metrics['roc_auc'] - top.importance.iloc[0]:.3f} "
        "without it.",
        "",
        top.rename(columns={"importance": "ROC AUC drop"}).round(4).to_markdown(index=False),
        "",
        "## Calibration",
        "",
        calibration_in_words(result),
        "",
        result.calibration.round(4).to_markdown(index=False),
        "",
        "## Plots",
        "",
        f"![ROC curve on the validation window {_validation(result)}](roc.png)",
        f"![Calibration on the validation window {_validation(result)}](calibration.png)",
        f"![Permutation importance on the validation window {_validation(result)}](importance.png)",
        "",
        "## Caveats",
        "",
        "- `forecast_*` features come from a stand-in forecast feed (the weather later "
        "observed in the hour): real forecasts are worse, so live performance will be lower.",
        "- Trained on one year (2013) of three New York airports; seasonality beyond the "
        "training months is unseen (month is deliberately not a feature).",
        "- Rolling delay rates are empty in the first weeks of the data (cold start).",
        "",
        OUT_OF_TIME,
        "",
        "Not scored yet: the inference pipeline writes this section once outcomes of the "
        "days it scored have arrived.",
        "",
    ]
    return "\n".join(lines)


def calibration_in_words(result: TrainingResult) -> str:
    """How far the scores can be read as probabilities, on the validation window."""
    mean, rate = result.metrics["mean_score"], result.metrics["base_rate"]
    table = result.calibration
    busy = table[table.flights >= 0.05 * table.flights.sum()]
    ratios = (busy.observed_rate / busy.mean_predicted).replace([np.inf, -np.inf], np.nan)
    ratios = ratios.dropna()
    if mean > 1.1 * rate:
        verdict = (
            f"The scores run high: their mean is {mean:.3f} against an observed delay rate of "
            f"{rate:.3f} ({mean / rate:.1f} times)"
        )
        reading = (
            "Read them as a ranking (ROC AUC) and against the threshold chosen on validation; "
            "as probabilities they overstate the risk."
        )
    elif mean < 0.9 * rate:
        verdict = (
            f"The scores run low: their mean is {mean:.3f} against an observed delay rate of "
            f"{rate:.3f}"
        )
        reading = "As probabilities they understate the risk."
    else:
        verdict = f"The scores are calibrated on average: mean {mean:.3f}, observed rate {rate:.3f}"
        reading = "They can be read as probabilities within the bands below."
    if len(ratios):
        verdict += (
            f"; in the bands that hold at least 5% of the flights, the observed rate is "
            f"{ratios.min():.0%} to {ratios.max():.0%} of the mean score"
        )
    return (
        f"{verdict}. {reading} Below: the validation window's flights ({_validation(result)}) "
        f"in {len(table)} score bands."
    )


def out_of_time(con: WarehouseSql, version: str) -> dict | None:
    """A model's figures on the days it scored whose outcomes arrived; None before any."""
    first, last, flights, delayed, mean = con.execute(
        "select min(flight_date), max(flight_date), count(*), avg(is_delayed::int), "
        "avg(score) from ml.prediction_outcomes where model_version = ?",
        [version],
    ).fetchone()
    if not flights:
        return None
    _, auc = con.execute(POOLED_AUC_SQL, [version, first, last]).fetchone()
    daily = con.execute(
        # percentile_cont ... within group: the spelling DuckDB and Spark share.
        "select count(*), median(roc_auc), "
        "percentile_cont(0.1) within group (order by roc_auc), "
        "percentile_cont(0.9) within group (order by roc_auc) "
        "from ml.model_performance_daily where model_version = ?",
        [version],
    ).fetchone()
    return {
        "first_day": str(first),
        "last_day": str(last),
        "flights": int(flights),
        "roc_auc": float(auc) if auc is not None else float("nan"),
        "base_rate": float(delayed),
        "mean_score": float(mean),
        "days": int(daily[0]),
        "daily_roc_auc_median": daily[1],
        "daily_roc_auc_p10": daily[2],
        "daily_roc_auc_p90": daily[3],
    }


def out_of_time_section(figures: dict) -> str:
    lines = [
        OUT_OF_TIME,
        "",
        f"On the days it scored whose outcomes arrived, {figures['first_day']} .. "
        f"{figures['last_day']} ({figures['flights']:,} flights), never seen in training or "
        "validation:",
        "",
        "| metric | value |",
        "|---|---|",
        f"| ROC AUC, pooled | {figures['roc_auc']:.4f} |",
        f"| base rate | {figures['base_rate']:.4f} |",
        f"| mean score | {figures['mean_score']:.4f} |",
    ]
    if figures["days"] and figures["daily_roc_auc_median"] is not None:
        lines.append(
            f"| daily ROC AUC over {figures['days']} days: median (10th .. 90th percentile) | "
            f"{figures['daily_roc_auc_median']:.3f} ({figures['daily_roc_auc_p10']:.3f} .. "
            f"{figures['daily_roc_auc_p90']:.3f}) |"
        )
    lines += [
        "",
        "The pooled ROC AUC ranks flights across days (a stormy day's flights above a calm "
        "day's); the daily one ranks the flights of one day against each other, a harder "
        "task: see docs/monitoring.md.",
        "",
    ]
    return "\n".join(lines)


def update_model_cards(
    con: duckdb.DuckDBPyConnection, outcomes: WarehouseSql | None = None
) -> dict[str, dict]:
    """Write the out-of-time section into the card of every model with outcomes; returns
    each model's figures. `outcomes`: where ml.prediction_outcomes is (Spark's tables on
    the Spark engine); by default `con`, which holds the registry."""
    outcomes = con if outcomes is None else outcomes
    written = {}
    versions = outcomes.execute(
        "select distinct model_version from ml.prediction_outcomes order by 1"
    ).fetchall()
    for (version,) in versions:
        model = registry.get(con, version)
        figures = out_of_time(outcomes, version)
        card = Path(model.artifact_path) / "model_card.md" if model else None
        if figures is None or card is None or not card.exists():
            continue
        card.write_text(with_out_of_time(card.read_text(), figures))
        written[version] = figures
    return written


def with_out_of_time(card: str, figures: dict) -> str:
    """The card with its out-of-time section replaced (it is the card's last section)."""
    head = card.split(OUT_OF_TIME)[0].rstrip("\n")
    return f"{head}\n\n{out_of_time_section(figures)}"


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
