"""Which assets and checks of a job a run selects, read from the Definitions: a feature run
without the reference tables, the checks a job runs on some of its assets, and the
inference pipeline's evaluation-only run."""

from __future__ import annotations

from dagster import AssetCheckKey, AssetKey

from orchestration.keys import DRIFT, INFERENCE_JOB

EVALUATION_ONLY_GROUPS = ("evaluation", "monitoring")
"""An evaluation-only run: the inference pipeline's assets in these groups, less drift (it
measures scored days, and such a run scores none)."""


def _graph(job_name: str):
    from orchestration.definitions import defs

    return defs.resolve_job_def(job_name).asset_layer.asset_graph


def _in_order(keys) -> list[AssetKey]:
    return sorted(keys, key=lambda key: key.to_user_string())


def partitioned(job_name: str) -> list[AssetKey]:
    """The partitioned assets of a job: a feature run without the reference tables skips
    their loader pass and a dbt invocation (~10 s); the daily ones read the dimensions
    already built."""
    graph = _graph(job_name)
    return _in_order(key for key in graph.executable_asset_keys if graph.get(key).partitions_def)


def job_checks(job_name: str, selection: list[AssetKey]) -> list[AssetCheckKey]:
    """The checks a job runs on some of its assets."""
    graph = _graph(job_name)
    return sorted(
        (key for key in graph.asset_check_keys if key.asset_key in set(selection)),
        key=lambda key: (key.asset_key.to_user_string(), key.name),
    )


def evaluation_only() -> list[AssetKey]:
    """The assets of a run that evaluates the outcomes that arrived when there is nothing to
    score: the outcomes, the daily performance, the model card and the retraining decision.
    Derived from the job, so an asset added to those groups is evaluated too."""
    graph = _graph(INFERENCE_JOB)
    return _in_order(
        key
        for key in graph.executable_asset_keys
        if graph.get(key).group_name in EVALUATION_ONLY_GROUPS and key != DRIFT
    )
