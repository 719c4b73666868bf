"""What has to run next, read from Dagster's own records: the one planner of the automation
(the `daily_loop` sensor) and of `flightline run`.

Every question is asked of the Dagster instance, never of the warehouse (a sensor must not
open DuckDB while a run writes it). The stages, in order; a stage is planned only when the
ones before it have nothing to run:

1. features: days with files that landed since (the caller says which: the sensor by size
   and time, the CLI by content hash), days whose raw partitions are newer than their
   features (a run loaded them and failed before dbt), and every loaded day when a
   reference table changed or was never built;
2. training: no champion yet and the features cover the cutoff's validation window; or a
   retraining decision newer than the last training, once a day from its cutoff on is
   ready to score (a model with nothing to score would only replace the one that scored);
3. scoring: days from the champion's cutoff that it has not scored or whose features
   changed after their predictions. First the scoring gate alone judges the days it has
   no verdict on for their current features; then one run per range of days that passed.
   A day that failed waits for new features, and no run fails for it;
4. evaluation: outcomes that landed after the last evaluation, when nothing is to score.

Each request carries a run key naming what it acts on (the window and the newest record it
read), so the sensor never requests the same work twice, even after a failure: a failed run
is retried by Dagster's run retries, or by new data.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, timedelta

from dagster import AssetCheckKey, AssetKey, RunRequest

from ingest.catalog import DAILY_FEEDS, REFERENCE_FEEDS
from ingest.windows import contiguous_ranges, partition_range
from ml.training_config import DEFAULT_CUTOFF, VALIDATION_DAYS
from orchestration.keys import (
    ACTUALS,
    DECISION,
    FEATURE_JOB,
    FLIGHT_FEATURES,
    GATE_JOB,
    INFERENCE_JOB,
    OUTCOMES,
    PREDICTIONS,
    TRAINING_JOB,
    TRAINING_SET,
)
from orchestration.records import Records, champion_promotion, current_verdicts
from orchestration.selections import evaluation_only, job_checks, partitioned

NOTHING_LANDED = "feature pipeline: nothing new has landed"


@dataclass(frozen=True)
class Landed:
    """What the caller saw land since it last looked."""

    days: frozenset[str] = frozenset()
    reference: bool = False
    last_modified: float = 0.0
    """The newest modification time among those files that is not in the future (epoch
    seconds; 0 when none)."""


@dataclass(frozen=True)
class Policy:
    """The choices a person may make for one `flightline run`; the automation uses the
    defaults."""

    cutoff: date = DEFAULT_CUTOFF
    """The first model trains on flights before this day."""
    validation_days: int = VALIDATION_DAYS
    train: bool = True
    """Plan training at all (first model and retraining decisions)."""
    score: bool = True
    """Plan scoring and evaluation at all."""
    scoring_range: tuple[str, str] | None = None
    """Score only these days (inclusive); by default every day from the champion's cutoff."""


@dataclass
class Request:
    """One run to launch, and what it is for, in words."""

    job: str
    summary: str
    run_key: str
    window: tuple[str, str] | None = None
    run_config: dict = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    selection: list[AssetKey] | None = None
    """The assets to run, when not the whole job."""
    checks: list[AssetCheckKey] | None = None
    """With a selection: the job's own checks of those assets. (Dagster would otherwise add
    every check of the selected assets, even those the job leaves out: the scoring gate in
    the feature pipeline.)"""

    def run_request(self) -> RunRequest:
        tags = dict(self.tags)
        if self.window is not None:
            tags["dagster/asset_partition_range_start"] = self.window[0]
            tags["dagster/asset_partition_range_end"] = self.window[1]
        return RunRequest(
            run_key=self.run_key,
            job_name=self.job,
            run_config=self.run_config,
            tags=tags,
            asset_selection=self.selection,
            asset_check_keys=self.checks,
        )


@dataclass
class Plan:
    stage: str
    requests: list[Request]
    notes: list[str]
    """What waits and why: printed by the CLI, the sensor's skip reason."""
    held: dict[str, str] = field(default_factory=dict)
    """Days the scoring gate keeps from scoring, with the gate's reason."""


def next_runs(instance, landed: Landed = Landed(), policy: Policy = Policy()) -> Plan:
    """The runs of the first stage that has any, with the notes of the stages before it."""
    records = Records(instance)
    notes: list[str] = []
    held: dict[str, str] = {}
    for stage in (_features, _training, _scoring, _evaluation):
        plan = stage(records, landed, policy)
        held.update(plan.held)
        if plan.requests:
            return Plan(plan.stage, plan.requests, [*notes, *plan.notes], held)
        notes += plan.notes
    return Plan("done", [], notes, held)


def _key(*parts: object) -> str:
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16]


def _features(records: Records, landed: Landed, policy: Policy) -> Plan:
    from orchestration.assets.dbt import dbt_reference_models

    features = records.latest(FLIGHT_FEATURES)
    days = set(landed.days)
    loaded: set[str] = set()
    for feed in DAILY_FEEDS:
        raw = records.latest(AssetKey(["raw", feed.name]))
        loaded |= raw.keys()
        days |= {day for day, storage_id in raw.items() if storage_id > features.get(day, -1)}
    built_reference = [
        records.newest(key) for key in dbt_reference_models.keys if key.path[0] == "marts"
    ]
    oldest_built = min(
        (record.storage_id if record else -1 for record in built_reference), default=-1
    )
    reference = landed.reference or any(
        (record := records.newest(AssetKey(["raw", feed.name]))) is not None
        and record.storage_id > oldest_built
        for feed in REFERENCE_FEEDS
    )
    reference = reference or oldest_built < 0
    if reference and loaded:
        # The reference tables feed every day's features: rebuild every loaded day.
        days |= {min(loaded), max(loaded)}
    window = partition_range(days)
    if window is None:
        return Plan("features", [], [NOTHING_LANDED])
    newest = max([*features.values(), 0])
    return Plan(
        "features",
        [
            Request(
                FEATURE_JOB,
                f"feature pipeline: one run for flight dates {window[0]} .. {window[1]}",
                run_key="features-"
                + _key(window, reference, sorted(landed.days), landed.reference, newest),
                window=window,
                tags={"flightline/includes_reference": str(reference).lower()},
                selection=None if reference else partitioned(FEATURE_JOB),
                checks=None if reference else job_checks(FEATURE_JOB, partitioned(FEATURE_JOB)),
            )
        ],
        [],
    )


def _training(records: Records, landed: Landed, policy: Policy) -> Plan:
    from orchestration.assets.training import training_run_config

    if not policy.train:
        return Plan("training", [], [])
    champion = champion_promotion(records)
    if champion is None:
        cutoff = policy.cutoff
        first = cutoff - timedelta(days=policy.validation_days)
        needed = {(first + timedelta(days=n)).isoformat() for n in range(policy.validation_days)}
        features = records.latest(FLIGHT_FEATURES)
        before = [day for day in features if day < first.isoformat()]
        missing = sorted(needed - features.keys())
        if missing or not before:
            return Plan(
                "training",
                [],
                [
                    f"training pipeline: skipped, the first model trains on flights before "
                    f"{cutoff} and validates on {first} .. {cutoff - timedelta(days=1)}: "
                    + (
                        f"{len(missing)} of those days have no features yet"
                        if missing
                        else f"no day before {first} has features"
                    )
                    + "; land more days or pass --cutoff"
                ],
            )
        return Plan(
            "training",
            [
                Request(
                    TRAINING_JOB,
                    f"training pipeline: first model, trained on flights before {cutoff}",
                    run_key=f"train-first-{cutoff}",
                    run_config=training_run_config(
                        cutoff.isoformat(), "first model", policy.validation_days
                    ),
                    tags={"flightline/cutoff": cutoff.isoformat()},
                )
            ],
            [],
        )
    decision = records.newest(DECISION)
    trained = records.newest(TRAINING_SET)
    _, version, _ = champion
    if decision is None or (trained is not None and trained.storage_id > decision.storage_id):
        return Plan("training", [], [f"training pipeline: {version} is the champion"])
    metadata = decision.asset_materialization.metadata
    if not metadata["retrain"].value:
        return Plan(
            "training", [], [f"training pipeline: {version} stays: {metadata['reason'].value}"]
        )
    cutoff = str(metadata["cutoff"].value)
    reason = str(metadata["reason"].value)
    later = [day for day in records.latest(FLIGHT_FEATURES) if day >= cutoff]
    verdicts = current_verdicts(records, later)
    if all(day in verdicts and not verdicts[day][0] for day in later):
        return Plan(
            "training",
            [],
            [
                f"training pipeline: the monitor asks to retrain ({reason}); that waits until "
                f"a day from {cutoff} on is scheduled and ready to score"
            ],
        )
    validation_days = (
        int(metadata["validation_days"].value) if "validation_days" in metadata else VALIDATION_DAYS
    )
    return Plan(
        "training",
        [
            Request(
                TRAINING_JOB,
                f"training pipeline: retrain on flights before {cutoff} ({reason})",
                run_key=f"retrain-{cutoff}-{decision.storage_id}",
                run_config=training_run_config(cutoff, reason, validation_days),
                tags={"flightline/trigger": "retraining decision", "flightline/cutoff": cutoff},
            )
        ],
        [],
    )


def held_note(held: dict[str, str]) -> str:
    return (
        f"inference pipeline: {len(held)} day(s) stay unscored, blocked by the scoring gate "
        f"and unchanged since: {', '.join(sorted(held))}"
    )


def _scoring(records: Records, landed: Landed, policy: Policy) -> Plan:
    """Days to score, through the scoring gate first: a run of the gate alone over the days
    without a verdict on their current features, then one scoring run per range of days
    that passed. A day that fails stays unscored until its features change, and no run
    fails for it (in a scoring run, a failed blocking check would stop every day)."""
    if not policy.score:
        return Plan("scoring", [], [])
    champion = champion_promotion(records)
    if champion is None:
        return Plan("scoring", [], ["inference pipeline: no champion model yet; nothing scored"])
    promoted, version, cutoff = champion
    start, end = policy.scoring_range or (cutoff, "9999-12-31")
    span = f"{start} .. {end}" if policy.scoring_range else f"from {start} on"
    features = records.latest(FLIGHT_FEATURES)
    predictions = records.latest(PREDICTIONS)
    days = sorted(
        day
        for day, built in features.items()
        if start <= day <= end and predictions.get(day, -1) < max(promoted, built)
    )
    if not days:
        return Plan(
            "scoring",
            [],
            [f"inference pipeline: every day {span} is scored by {version}"],
        )
    current = current_verdicts(records, days)
    held = {day: why for day, (passed, why) in current.items() if not passed}
    notes: list[str] = []
    unjudged = [day for day in days if day not in current]
    newest = max(features[day] for day in days)
    if unjudged:
        requests = [
            Request(
                GATE_JOB,
                f"scoring gate: judge the features of {first} .. {last}",
                run_key="gate-" + _key(first, last, newest),
                window=(first, last),
            )
            for first, last in contiguous_ranges(unjudged)
        ]
        return Plan("gate", requests, notes, held)
    requests = [
        Request(
            INFERENCE_JOB,
            f"inference pipeline: score {first} .. {last} with {version}",
            run_key="score-" + _key(first, last, version, newest),
            window=(first, last),
        )
        for first, last in contiguous_ranges(day for day in days if day not in held)
    ]
    return Plan("scoring", requests, notes, held)


def _evaluation(records: Records, landed: Landed, policy: Policy) -> Plan:
    """The last evening of a feed scores nothing, but its outcomes arrived."""
    if not policy.score:
        return Plan("evaluation", [], [])
    actuals = records.newest(ACTUALS)
    evaluated = records.newest(OUTCOMES)
    predictions = records.latest(PREDICTIONS)
    if actuals is None or not predictions or champion_promotion(records) is None:
        return Plan("evaluation", [], [])
    if evaluated is not None and evaluated.storage_id > actuals.storage_id:
        return Plan("evaluation", [], [])
    last = max(predictions)
    return Plan(
        "evaluation",
        [
            Request(
                INFERENCE_JOB,
                "inference pipeline: evaluate the outcomes that arrived",
                run_key=f"evaluate-{actuals.storage_id}",
                window=(last, last),
                selection=evaluation_only(),
                checks=job_checks(INFERENCE_JOB, evaluation_only()),
            )
        ],
        [],
    )
