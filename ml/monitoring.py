"""When to retrain: a plain decision over what monitoring measured, tested directly.

Three triggers, checked at the end of a day whose outcomes have arrived (`as_of`):
- performance: the champion's ROC AUC over the last `performance_days` evaluated days,
  pooled, fell more than `auc_drop` below its own validation AUC;
- drift: the drift monitor alerts on the last measured day (ml/drift.py: a column of the
  flights' population shifted against both the champion's training window and last month;
  the score's PSI alone no longer triggers: it rose with December's storms, when the model
  discriminated as well as ever);
- schedule: the champion's training data ends more than `max_age_days` before `as_of`.

Performance and drift wait `min_days_between` days after the champion's cutoff and after
the last retraining (promoted or not): a model that has just been trained has not yet
produced the evidence that would judge it, and a retraining on nearly the same rows would
not change it (the first replay of Q4 retrained every evening while the gate kept rejecting
candidates, at two minutes an evening). A retraining trains on every
labelled day up to and including `as_of` (cutoff = as_of + 1).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from datetime import date, timedelta

import duckdb

from ingest.tables import FEATURE_DRIFT, ensure_table
from ml.features import WarehouseSql
from ml.registry import RegisteredModel
from ml.training_config import VALIDATION_DAYS

# ROC AUC of all the predictions of a model over a date range, pooled (Mann-Whitney with
# tied ranks averaged): the statistic of ml.model_performance_daily, over many days.
POOLED_AUC_SQL = """
with ranked as (
    select is_delayed,
        rank() over (order by score) + (count(*) over (partition by score) - 1) / 2.0 as r
    from ml.prediction_outcomes
    where model_version = ? and flight_date between ?::date and ?::date
)
select count(*),
    cast(sum(r) filter (where is_delayed)
        - count(*) filter (where is_delayed) * (count(*) filter (where is_delayed) + 1) / 2.0
        as double)  -- divided as doubles: Spark divides decimals to 6 places
    / nullif(count(*) filter (where is_delayed) * count(*) filter (where not is_delayed), 0)
from ranked
"""


@dataclass(frozen=True)
class RetrainingPolicy:
    max_age_days: int = 30
    min_days_between: int = 7
    performance_days: int = 7
    min_evaluated_flights: int = 2000
    auc_drop: float = 0.05


@dataclass(frozen=True)
class Evidence:
    as_of: date
    """The last day with outcomes."""
    champion_version: str
    champion_cutoff: date
    champion_validation_auc: float
    recent_auc: float | None
    recent_flights: int
    recent_window: tuple[date, date]
    score_psi: float | None
    drift_day: date | None = None
    """The last day drift was measured on (a scored day: its features are known)."""
    champion_validation_days: int = VALIDATION_DAYS
    """A retraining validates on as many days before its cutoff as the champion did."""
    last_trained_cutoff: date | None = None
    """The cutoff of the latest model trained, promoted or not."""
    drift_alerts: tuple[str, ...] = ()
    """Columns the drift monitor alerts on at drift_day, with their PSIs, worst first."""


@dataclass(frozen=True)
class RetrainingDecision:
    retrain: bool
    trigger: str
    """'performance', 'drift', 'schedule' or 'none'."""
    reason: str
    cutoff: date
    validation_days: int = VALIDATION_DAYS

    def as_metadata(self) -> dict:
        return {**asdict(self), "cutoff": self.cutoff.isoformat()}


def decide_retraining(evidence: Evidence, policy: RetrainingPolicy) -> RetrainingDecision:
    decision = _decide(evidence, policy)
    return replace(decision, validation_days=evidence.champion_validation_days)


def _decide(evidence: Evidence, policy: RetrainingPolicy) -> RetrainingDecision:
    cutoff = evidence.as_of + timedelta(days=1)
    age = (cutoff - evidence.champion_cutoff).days
    model = f"champion {evidence.champion_version} (cutoff {evidence.champion_cutoff})"
    if age <= 0:
        return RetrainingDecision(False, "none", f"{model} already covers {evidence.as_of}", cutoff)
    # A retraining the gate rejected leaves the champion in place and the evidence as it was:
    # without waiting, every evening would train again on almost the same rows.
    since_training = (
        (cutoff - evidence.last_trained_cutoff).days
        if evidence.last_trained_cutoff is not None
        else age
    )
    if min(age, since_training) >= policy.min_days_between:
        window = f"{evidence.recent_window[0]} .. {evidence.recent_window[1]}"
        floor = evidence.champion_validation_auc - policy.auc_drop
        if (
            evidence.recent_auc is not None
            and evidence.recent_flights >= policy.min_evaluated_flights
            and evidence.recent_auc < floor
        ):
            return RetrainingDecision(
                True,
                "performance",
                f"performance: ROC AUC {evidence.recent_auc:.4f} over {window} "
                f"({evidence.recent_flights:,} flights) is below {floor:.4f}, the champion's "
                f"validation AUC {evidence.champion_validation_auc:.4f} minus {policy.auc_drop}",
                cutoff,
            )
        if evidence.drift_alerts:
            return RetrainingDecision(
                True,
                "drift",
                f"drift: the flights of the week to {evidence.drift_day} shifted in "
                f"{', '.join(evidence.drift_alerts[:5])}",
                cutoff,
            )
    if min(age, since_training) > policy.max_age_days:
        return RetrainingDecision(
            True,
            "schedule",
            f"schedule: {model} is {age} days old, more than {policy.max_age_days}",
            cutoff,
        )
    recent = (
        "no evaluated days yet"
        if evidence.recent_auc is None
        else (f"ROC AUC {evidence.recent_auc:.4f} over the last {policy.performance_days} days")
    )
    psi = "n/a" if evidence.score_psi is None else f"{evidence.score_psi:.3f}"
    return RetrainingDecision(
        False, "none", f"{model}, {age} days old: {recent}, score PSI {psi}", cutoff
    )


LAST_DRIFT_DAY = (
    "model_version = ? and flight_date = (select max(flight_date) from ml.feature_drift "
    "where model_version = ?)"
)
"""The champion's (twice its version) last day of drift measures, as gather_evidence reads it."""


def evidence_window(
    outcomes: WarehouseSql, model: RegisteredModel, policy: RetrainingPolicy
) -> tuple[date, date] | None:
    """The champion's last `performance_days` days up to its last evaluated one (first,
    last); None before any of its predictions has an outcome."""
    # fetchall, not fetchone: DuckDB 2.0 keeps a result open until it is read to its end,
    # and refuses the connection's next relation (Recording.copy_rows) meanwhile.
    rows = outcomes.execute(
        "select max(flight_date) from ml.prediction_outcomes where model_version = ?",
        [model.model_version],
    ).fetchall()
    if not rows or rows[0][0] is None:
        return None
    return rows[0][0] - timedelta(days=policy.performance_days - 1), rows[0][0]


def decision_inputs(
    con: duckdb.DuckDBPyConnection,
    outcomes: WarehouseSql,
    model: RegisteredModel,
    policy: RetrainingPolicy,
) -> list[tuple[str, str, list]]:
    """What gather_evidence reads, as (relation, condition, parameters), for recording it:
    the champion's outcomes in its evidence window, its last day of drift measures, and the
    registry. The same window and conditions gather_evidence uses."""
    version = model.model_version
    window = evidence_window(outcomes, model, policy)
    return [
        (
            "ml.prediction_outcomes",
            "model_version = ? and flight_date between ?::date and ?::date",
            [version, *window],
        )
        if window
        else ("ml.prediction_outcomes", "false", []),
        ("ml.feature_drift", LAST_DRIFT_DAY, [version, version]),
        ("ml.model_registry", "true", []),
    ]


def gather_evidence(
    con: duckdb.DuckDBPyConnection,
    model: RegisteredModel,
    policy: RetrainingPolicy,
    outcomes: WarehouseSql | None = None,
) -> Evidence | None:
    """What the warehouse knows about the champion at the end of the last evaluated day;
    None before any of its predictions has an outcome. `outcomes`: where
    ml.prediction_outcomes is (Spark's tables on the Spark engine); by default `con`, which
    holds the registry and the drift measures."""
    outcomes = con if outcomes is None else outcomes
    ensure_table(con, FEATURE_DRIFT)
    window = evidence_window(outcomes, model, policy)
    if window is None:
        return None
    start, as_of = window
    flights, auc = outcomes.execute(POOLED_AUC_SQL, [model.model_version, start, as_of]).fetchone()
    drift = con.execute(
        f"""
        select feature, psi, flight_date, status, psi_recent, coalesce(alerting, false)
        from ml.feature_drift
        where {LAST_DRIFT_DAY}
        order by least(psi, coalesce(psi_recent, psi)) desc
        """,
        [model.model_version, model.model_version],
    ).fetchall()
    score_psi = next((psi for feature, psi, *_ in drift if feature == "score"), None)
    return Evidence(
        as_of=as_of,
        champion_version=model.model_version,
        champion_cutoff=date.fromisoformat(model.cutoff_date),
        champion_validation_auc=model.validation_roc_auc,
        recent_auc=float(auc) if auc is not None else None,
        recent_flights=int(flights),
        recent_window=(start, as_of),
        score_psi=score_psi,
        drift_day=drift[0][2] if drift else None,
        last_trained_cutoff=con.execute(
            "select max(cutoff_date) from ml.model_registry"
        ).fetchone()[0],
        champion_validation_days=(
            date.fromisoformat(model.cutoff_date) - date.fromisoformat(model.validation_start)
        ).days,
        drift_alerts=tuple(
            f"{feature} (PSI {psi:.2f} against training, "
            + (
                "no month before to compare)"
                if recent is None or recent != recent
                else f"{recent:.2f} against the month before)"
            )
            for feature, psi, _, status, recent, alerting in drift
            if status == "alert" and alerting  # rows written before `alerting`: not judged
        ),
    )
