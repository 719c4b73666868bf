"""The raw suites on the real year, and the two ways a suite is validated agreeing."""

import dataclasses

import duckdb
import numpy as np
import pandas as pd
import pytest

from ingest.catalog import FEEDS
from ingest.expectations import RAW_SUITES, SCHEDULES
from ingest.load.loader import Loader
from ingest.provider.export import export_feeds
from ingest.quality import CRITICAL, validate
from ingest.quality_sql import validate_sql
from ingest.warehouse import connect


def test_the_real_year_passes_every_critical_expectation(tmp_path, source):
    """Every 2013 file of every feed loads whole: the suites' bounds fit the real year (the
    warnings they raise are real oddities, e.g. a 1,048 mph wind reading at EWR)."""
    landing = tmp_path / "landing"
    export_feeds(landing, source=source)
    con = connect(tmp_path / "warehouse.duckdb")
    loader = Loader(con, landing, tmp_path / "quarantine", quality=tmp_path / "quality")

    results = {spec.name: loader.load(spec) for spec in FEEDS}

    for name, result in results.items():
        assert result.rows_quarantined == 0, (name, result.files_quarantined[:3])
        validation = result.validation
        critical = [f for f in validation.failures if f.severity == CRITICAL]
        assert not critical, (name, [str(f) for f in critical[:3]])
    assert results["schedules"].rows_loaded == 336_776
    con.close()


def _schedules(days: int = 4, per_day: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = days * per_day
    return pd.DataFrame(
        {
            "flight_date": np.repeat([f"2013-03-0{d + 1}" for d in range(days)], per_day),
            "carrier": rng.choice(["AA", "UA", "DL"], n),
            "flight": rng.integers(1, 9999, n),
            "origin": rng.choice(["EWR", "JFK", "LGA"], n),
            "dest": rng.choice(["ATL", "ORD"], n),
            "sched_dep_time": rng.integers(500, 2300, n),
            "sched_arr_time": rng.integers(0, 2400, n),
            "tailnum": pd.Series(rng.choice(["N1", "N2", None], n), dtype="object"),
            "distance": rng.integers(100, 3000, n),
        }
    )


def test_the_sql_path_gives_the_frame_paths_verdicts(tmp_path):
    frame = _schedules()
    frame.loc[3, "origin"] = "BOS"  # critical row failure
    frame.loc[[10, 11, 600], "distance"] = [5, 7000, 9]  # critical, two days
    frame.loc[1200:1205, "carrier"] = "ZZ"  # a warning
    frame.loc[5, "origin"] = None  # null: not an in_set failure, as in GX
    frame = frame[(frame.flight_date != "2013-03-04") | (frame.index % 5 == 0)]  # short day
    frame = frame.reset_index(drop=True)
    frame["_row"] = np.arange(len(frame))
    days = sorted(frame.flight_date.unique())
    usual = frame.groupby("flight_date").size().median()
    con = duckdb.connect()
    con.register("batch", frame)

    in_pandas = validate(tmp_path / "a", SCHEDULES, frame, "flight_date", days, usual)
    in_sql = validate_sql(
        tmp_path / "b", SCHEDULES, con, "batch", "flight_date", days, "_row", usual
    )

    def comparable(validation):
        return sorted(
            (f.expectation, f.severity, f.partition, f.unexpected, f.checked, str(f.observed))
            for f in validation.failures
        )

    assert comparable(in_sql) == comparable(in_pandas)
    assert in_sql.rejected_partitions() == in_pandas.rejected_partitions() == ["2013-03-04"]
    assert {d: in_sql.severity_of(d) for d in days} == {d: in_pandas.severity_of(d) for d in days}
    distance = [f for f in in_sql.failures if "distance" in f.expectation]
    assert sorted(v for f in distance for v in f.sample) == [5, 9, 7000]
    assert in_sql.docs is not None and in_sql.docs.exists()


@pytest.mark.parametrize("name", sorted(RAW_SUITES))
def test_every_raw_row_expectation_has_an_sql_form(name):
    from ingest.quality_sql import row_checks

    assert len(row_checks(RAW_SUITES[name])) == len(RAW_SUITES[name].rows)


def test_an_expectation_without_an_sql_form_says_so():
    import great_expectations.expectations as gxe

    from ingest.quality_sql import row_checks

    suite = dataclasses.replace(
        SCHEDULES, rows=(gxe.ExpectColumnValuesToMatchRegex(column="carrier", regex="^[A-Z]"),)
    )
    with pytest.raises(NotImplementedError, match="no SQL form"):
        row_checks(suite)
    # Uniqueness is the relation's: a row alone (the loader's critical checks) has none.
    unique = dataclasses.replace(
        SCHEDULES, rows=(gxe.ExpectColumnValuesToBeUnique(column="flight"),)
    )
    with pytest.raises(NotImplementedError, match="no SQL form"):
        row_checks(unique)
    assert "group by all having count(*) > 1" in row_checks(unique, "batch")[0].fails
