"""The drift monitor judged against what it is for: do its alerts line up with the days the
champion's daily ROC AUC dropped? The old monitor and the new one, on the same warehouse.

    .venv/bin/python benchmarks/drift_q4.py [WAREHOUSE] [--from 2013-10-01 --to 2013-12-31]

WAREHOUSE is a built warehouse with a champion (default data/warehouse/warehouse.duckdb,
after `make run`); it is copied, never written, and the champion's drift reference is built
again by this code. For each day:
- daily ROC AUC of the champion's scores and its Hanley-McNeil standard error; a day is an
  "AUC drop" when its AUC is more than 2 standard errors below the champion's median daily
  AUC on its own validation window (a drop the day's sample size cannot explain);
- "sustained": the pooled ROC AUC of the 7 days ending on it is below the champion's
  validation AUC minus 0.05 (the retraining policy's performance trigger);
- old monitor: any column with PSI above 0.25 against the training window (as it ran until
  December 2026); new monitor: ml/drift.py as it runs now (status 'alert').
Then the same with one real change injected into the copy: the plane register stops
matching from the 1st of the last month (every plane column null: a broken join).
Prints markdown tables (docs/monitoring.md holds one run's).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from ingest.settings import Settings
from ml import registry
from ml.drift import DriftThresholds, drift_for_days, model_scores, warehouse_reference
from ml.features import read_features

ROOT = Path(__file__).resolve().parents[1]


def hanley_mcneil_se(auc: float, positives: int, negatives: int) -> float:
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (
        auc * (1 - auc) + (positives - 1) * (q1 - auc**2) + (negatives - 1) * (q2 - auc**2)
    ) / (positives * negatives)
    return float(np.sqrt(variance))


def daily_auc(frame: pd.DataFrame, scores: np.ndarray) -> pd.DataFrame:
    frame = frame.assign(score=scores, is_delayed=frame.is_delayed.astype(bool))
    rows = []
    for day, group in frame.groupby("flight_date"):
        positives = int(group.is_delayed.sum())
        if 0 < positives < len(group):
            auc = roc_auc_score(group.is_delayed, group.score)
            se = hanley_mcneil_se(auc, positives, len(group) - positives)
            rows.append({"day": day, "flights": len(group), "auc": auc, "se": se})
    return pd.DataFrame(rows).set_index("day")


def pooled_auc(frame: pd.DataFrame, scores: np.ndarray, day: date, days: int = 7) -> float:
    inside = (frame.flight_date > day - timedelta(days=days)) & (frame.flight_date <= day)
    return roc_auc_score(frame.is_delayed[inside].astype(bool), scores[inside.to_numpy()])


def judge(con: duckdb.DuckDBPyConnection, first: date, last: date) -> pd.DataFrame:
    model = registry.require_champion(con)
    validation = read_features(
        con,
        date.fromisoformat(model.validation_start),
        date.fromisoformat(model.cutoff_date) - timedelta(days=1),
        labelled_only=True,
    )
    usual = daily_auc(validation, model_scores(con, model, validation)).auc.median()
    frame = read_features(con, first - timedelta(days=6), last, labelled_only=True)
    scores = model_scores(con, model, frame)
    table = daily_auc(frame, scores).loc[first:]
    table["drop"] = table.auc < usual - 2 * table.se
    table["pooled_7d"] = [pooled_auc(frame, scores, day) for day in table.index]
    table["sustained"] = table.pooled_7d < model.validation_roc_auc - 0.05
    days = [str(day) for day in table.index]
    # The reference as this code builds it, not as the model's training run stored it.
    drift = drift_for_days(
        con, model, days, DriftThresholds(), reference=warehouse_reference(con, model)
    )
    by_day = drift.groupby("flight_date")
    table["old_alert"] = by_day.psi.max().gt(0.25).reindex(table.index)
    table["old_columns"] = by_day.apply(lambda g: int((g.psi > 0.25).sum())).reindex(table.index)
    table["new_alert"] = by_day.status.apply(lambda s: bool((s == "alert").any()))
    table["new_alert"] = table.new_alert.reindex(table.index)
    table["new_columns"] = by_day.apply(
        lambda g: ", ".join(g[g.status == "alert"].feature)
    ).reindex(table.index)
    table.attrs["usual"] = usual
    # How well each column's PSI, on either reference, tells the drop days from the others
    # (ROC AUC of the PSI as a detector: 0.5 is chance).
    separation = []
    for feature, group in drift.groupby("feature"):
        group = group.set_index("flight_date").reindex(table.index)
        for reference, column in (("training", "psi"), ("recent", "psi_recent")):
            values = group[column].fillna(0)
            if table["drop"].any() and not table["drop"].all():
                separation.append(
                    {
                        "column": feature,
                        "reference": reference,
                        "detects_drops": roc_auc_score(table["drop"], values),
                    }
                )
    table.attrs["separation"] = pd.DataFrame(separation).sort_values(
        "detects_drops", ascending=False
    )
    return table


def scores_of(table: pd.DataFrame, alert: str, drop: str) -> str:
    alerts, drops = table[alert], table[drop]
    hits = int((alerts & drops).sum())
    precision = f"{hits / alerts.sum():.2f}" if alerts.sum() else "n/a (no alert)"
    return (
        f"{int(alerts.sum())} alert days, {hits} of them on one of the {int(drops.sum())} "
        f"{drop} days: precision {precision}, recall {hits / max(drops.sum(), 1):.2f}"
    )


def report(title: str, table: pd.DataFrame, days: bool) -> None:
    print(f"\n## {title}\n")
    print(f"champion's median daily ROC AUC on its validation window: {table.attrs['usual']:.3f}")
    for monitor in ("old_alert", "new_alert"):
        for drop in ("drop", "sustained"):
            print(f"- {monitor.split('_')[0]} monitor vs {drop}: {scores_of(table, monitor, drop)}")
    if days:
        best = table.attrs["separation"].head(6).round(3)
        print(
            "\nThe columns whose daily PSI best tells the drop days from the others (ROC AUC "
            "of the PSI as a detector; 0.5 is chance):\n"
        )
        print(best.to_markdown(index=False))
        shown = table.assign(
            day=table.index.astype(str),
            auc=table.auc.round(3),
            pooled_7d=table.pooled_7d.round(3),
            drop=table["drop"].map({True: "drop", False: ""}),
            old=table.old_alert.map({True: "alert", False: ""})
            + " ("
            + table.old_columns.astype(str)
            + " columns)",
            new=table.new_alert.map({True: "alert: ", False: ""}) + table.new_columns,
        )
        print()
        print(shown[["day", "auc", "drop", "pooled_7d", "old", "new"]].to_markdown(index=False))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("warehouse", nargs="?", default=ROOT / "data/warehouse/warehouse.duckdb")
    parser.add_argument("--from", dest="first", default="2013-10-01", type=date.fromisoformat)
    parser.add_argument("--to", dest="last", default="2013-12-31", type=date.fromisoformat)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        # The registry finds a model's files relative to the warehouse's data directory
        # (<home>/warehouse/warehouse.duckdb): the copy keeps that layout, models linked.
        home = Settings.of_warehouse(Path(args.warehouse)).home
        copy = Path(scratch) / "warehouse" / "warehouse.duckdb"
        copy.parent.mkdir()
        shutil.copy(args.warehouse, copy)
        (Path(scratch) / "models").symlink_to(home / "models")
        with duckdb.connect(str(copy)) as con:
            report(
                f"Clean feeds, {args.first} .. {args.last}", judge(con, args.first, args.last), True
            )
            broken = args.last.replace(day=1)
            # The plane register stops matching: every plane column null from `broken` on.
            con.execute(
                """
                update features.flight_features set plane_age_years = null,
                    plane_seat_count = null, plane_engine_count = null, has_plane_record = false
                where flight_date >= ?
                """,
                [broken],
            )
            con.execute("delete from ml.predictions where flight_date >= ?", [broken])
            table = judge(con, args.first, args.last)
            report(f"Plane register lost from {broken}", table, False)
            after = table[table.index >= broken]
            print(
                f"- from {broken}: new monitor alerts on {int(after.new_alert.sum())} of "
                f"{len(after)} days (first {after.index[after.new_alert.astype(bool)].min()}); "
                f"median daily AUC {after.auc.median():.3f}; columns alerting: "
                + ", ".join(sorted(set(", ".join(after.new_columns).split(", ")) - {""}))
            )


if __name__ == "__main__":
    main()
