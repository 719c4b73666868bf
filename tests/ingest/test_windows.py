import json

import pytest

from ingest.windows import dbt_build_args, dbt_window_env, partition_range


def test_dbt_arguments_carry_the_inclusive_window():
    args = dbt_build_args("2013-01-01", "2013-12-31")
    assert args[:2] == ["build", "--vars"]
    assert json.loads(args[2]) == {"start_date": "2013-01-01", "end_date": "2013-12-31"}


def test_dagster_passes_the_window_in_the_environment():
    assert dbt_window_env("2013-01-01", "2013-12-31") == {
        "FLIGHTLINE_DBT_START_DATE": "2013-01-01",
        "FLIGHTLINE_DBT_END_DATE": "2013-12-31",
    }


def test_a_window_that_ends_before_it_starts_is_refused():
    with pytest.raises(ValueError, match="after its end"):
        dbt_build_args("2013-02-01", "2013-01-31")
    with pytest.raises(ValueError, match="after its end"):
        dbt_window_env("2013-02-01", "2013-01-31")


def test_partition_range_covers_scattered_dates_in_one_run():
    assert partition_range(["2013-01-05", "2013-01-02", "2013-01-03"]) == (
        "2013-01-02",
        "2013-01-05",
    )
    assert partition_range([]) is None


def test_days_left_out_split_the_runs_so_a_blocked_day_is_not_swept_in():
    from ingest.windows import contiguous_ranges

    days = ["2013-10-01", "2013-10-02", "2013-10-04", "2013-09-30", "2013-10-02"]
    assert contiguous_ranges(days) == [("2013-09-30", "2013-10-02"), ("2013-10-04", "2013-10-04")]
    assert contiguous_ranges([]) == []
    assert contiguous_ranges(["2013-02-28", "2013-03-01"]) == [("2013-02-28", "2013-03-01")]
