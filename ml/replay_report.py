"""The report of a replay: daily ROC AUC and base rate, with and without retraining.

"With retraining" is what the pipeline did: every flight scored once, the day before, by
the champion of that evening. "Without" is the model that was champion when the replay
started, scoring the same flights from the same feature rows (point-in-time correct, so
identical to what it would have seen on the day).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ml.features import WarehouseSql, read_features
from ml.metrics import classification_metrics
from ml.registry import RegisteredModel
from ml.scoring import predict_scores


@dataclass
class ReplayDay:
    day: date
    seconds: float
    champion: str
    scored: str
    """What happened to the next day's flights: 'scored', 'blocked: ...', 'nothing to score'."""
    retraining: str | None = None
    """The trigger's reason when a retraining ran this evening, and the gate's verdict."""
    problems: list[str] = field(default_factory=list)


def outcomes_with_and_without(
    con: WarehouseSql, first_champion: RegisteredModel, start: date, end: date
) -> pd.DataFrame:
    """One row per scored flight with an outcome: the live score and the first champion's.
    `con`: where the outcomes and features are (Spark's tables on the Spark engine)."""
    live = con.execute(
        """
        select flight_id, flight_date, model_version, score, is_delayed
        from ml.prediction_outcomes
        where flight_date between ?::date and ?::date
        """,
        [start, end],
    ).df()
    if live.empty:  # nothing evaluated yet (a one-evening replay scores tomorrow only)
        return live.assign(score_without=pd.Series(dtype=float))
    features = read_features(con, start, end)
    features = features[features.flight_id.isin(live.flight_id)]
    baseline = pd.DataFrame(
        {
            "flight_id": features.flight_id.to_numpy(),
            "score_without": predict_scores(first_champion.load(), features),
        }
    )
    merged = live.merge(baseline, on="flight_id", how="inner")
    merged["flight_date"] = pd.to_datetime(merged.flight_date).dt.date
    return merged


def daily_table(outcomes: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for day, group in outcomes.groupby("flight_date", sort=True):
        labels = group.is_delayed.astype(int).to_numpy()
        if labels.min() == labels.max():
            continue
        rows.append(
            {
                "flight_date": day,
                "flights": len(group),
                "base_rate": labels.mean(),
                "auc_with": classification_metrics(labels, group.score.to_numpy())["roc_auc"],
                "auc_without": classification_metrics(labels, group.score_without.to_numpy())[
                    "roc_auc"
                ],
            }
        )
    columns = ["flight_date", "flights", "base_rate", "auc_with", "auc_without"]
    return pd.DataFrame(rows, columns=columns)


def pooled_auc(outcomes: pd.DataFrame, column: str) -> float:
    labels = outcomes.is_delayed.astype(int).to_numpy()
    if len(set(labels)) < 2:
        return float("nan")
    return classification_metrics(labels, outcomes[column].to_numpy())["roc_auc"]


def plot(daily: pd.DataFrame, retrainings: list[tuple[date, str, bool]]) -> bytes:
    import io

    figure, axis = plt.subplots(figsize=(10, 4.5))
    axis.plot(daily.flight_date, daily.auc_with, label="ROC AUC, with retraining", linewidth=1.6)
    axis.plot(
        daily.flight_date,
        daily.auc_without,
        label="ROC AUC, first champion kept",
        linewidth=1.0,
        linestyle="--",
    )
    axis.set_ylabel("daily ROC AUC")
    axis.set_ylim(0.4, 1.0)
    rate = axis.twinx()
    rate.bar(daily.flight_date, daily.base_rate, alpha=0.18, color="grey", label="base rate")
    rate.set_ylabel("share of flights delayed (bars)")
    rate.set_ylim(0, 1.5)
    for day, trigger, promoted in retrainings:
        axis.axvline(day, color="tab:red" if promoted else "tab:orange", linewidth=1, alpha=0.8)
        axis.text(
            day,
            0.98,
            f" {trigger}{'' if promoted else ' (kept)'}",
            rotation=90,
            va="top",
            fontsize=7,
            color="tab:red" if promoted else "tab:orange",
        )
    axis.legend(loc="lower left", fontsize=8)
    axis.set_title("Replay: daily ROC AUC of the day-before predictions; retrainings marked")
    figure.autofmt_xdate()
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    return buffer.getvalue()


def summary(
    start: date,
    end: date,
    days: list[ReplayDay],
    outcomes: pd.DataFrame,
    daily: pd.DataFrame,
    retrainings: pd.DataFrame,
    first_champion: str,
    seconds: float,
    plot_name: str,
) -> str:
    with_auc, without_auc = pooled_auc(outcomes, "score"), pooled_auc(outcomes, "score_without")
    blocked = [d for d in days if d.scored.startswith("blocked")]
    per_day = np.median([d.seconds for d in days]) if days else float("nan")
    lines = [
        f"# Replay {start} .. {end}",
        "",
        f"Walked {len(days)} days as production would (land the day's feeds, ingest, build "
        "incrementally, score the next day, evaluate, measure drift, retrain when the "
        f"retraining sensor's logic asks): {seconds / 60:.1f} min in all, median "
        f"{per_day:.1f} s per day.",
        "",
        "| | ROC AUC over the period | flights |",
        "|---|---|---|",
        f"| with retraining (what ran) | {with_auc:.4f} | {len(outcomes):,} |",
        f"| first champion kept ({first_champion}) | {without_auc:.4f} | {len(outcomes):,} |",
        "",
        f"Daily ROC AUC: median {daily.auc_with.median():.4f} with retraining, "
        f"{daily.auc_without.median():.4f} without; base rate from "
        f"{daily.base_rate.min():.1%} to {daily.base_rate.max():.1%}.",
        "",
        f"![daily ROC AUC and base rate]({plot_name})",
        "",
        f"## Retrainings ({len(retrainings)})",
        "",
    ]
    if len(retrainings):
        lines.append(retrainings.to_markdown(index=False))
    else:
        lines.append("None was triggered.")
    lines += ["", f"## Days not scored ({len(blocked)})", ""]
    lines += [f"- {d.day + pd.Timedelta(days=1)}: {d.scored}" for d in blocked] or ["None."]
    problems = [(d.day, p) for d in days for p in d.problems]
    lines += ["", f"## Problems ({len(problems)})", ""]
    lines += [f"- {day}: {problem}" for day, problem in problems] or ["None."]
    return "\n".join(lines) + "\n"
