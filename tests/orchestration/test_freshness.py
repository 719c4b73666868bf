"""Feed freshness: dbt's `dbt source freshness`, as checks on the raw assets."""

from dagster import AssetCheckSeverity, DagsterInstance

from ingest.warehouse import connect
from tests.conftest import copy_of


def test_a_feed_not_loaded_for_days_warns_then_fails(six_weeks, tmp_path, monkeypatch):
    from orchestration.definitions import defs

    home = copy_of(six_weeks, tmp_path)
    monkeypatch.setenv("FLIGHTLINE_HOME", str(home.home))
    con = connect(home.warehouse)
    con.execute("update raw.actuals set _loaded_at = now() - interval 3 days")
    con.execute("update raw.weather set _loaded_at = now() - interval 8 days")
    con.close()

    with DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def("freshness_of_feeds").execute_in_process(instance=instance)
    verdicts = {
        event.event_specific_data.asset_key.to_user_string(): event.event_specific_data
        for event in result.all_events
        if event.event_type_value == "ASSET_CHECK_EVALUATION"
    }
    assert result.success and len(verdicts) == 7
    assert verdicts["raw/schedules"].passed
    actuals, weather = verdicts["raw/actuals"], verdicts["raw/weather"]
    assert not actuals.passed and actuals.severity == AssetCheckSeverity.WARN
    assert actuals.description.startswith("last loaded 72.")
    assert not weather.passed and weather.severity == AssetCheckSeverity.ERROR
    assert "error after 7 day(s)" in weather.description
