"""The synthetic feeds (ingest/provider/synth.py): the real export's layout, seeded bytes,
unique keys, accepted by the loader and its expectation suites, and delays that behave like
2013's."""

import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pytest

from ingest.catalog import DAILY_FEEDS, REFERENCE_FEEDS
from ingest.load.loader import ingest_all
from ingest.provider.export import export_feeds
from ingest.provider.synth import write_synthetic_feeds
from ingest.provider.synth_flights import MAX_FLIGHT_NUMBER, _spread_overflow
from ingest.warehouse import connect

FLIGHTS = 20_000
DAYS = [date(2013, 1, 1) + timedelta(days=i) for i in range(22)]  # ceil(20,000 / 950)
DAILY = ("schedules", "actuals", "weather", "forecasts")


def _files(landing: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(landing)): p.read_bytes()
        for p in sorted(landing.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory, source):
    landing = tmp_path_factory.mktemp("synth") / "landing"
    result = write_synthetic_feeds(landing, FLIGHTS, seed=13, source=source)
    return landing, result


@pytest.fixture(scope="module")
def query(synthetic):
    landing, _ = synthetic
    con = duckdb.connect()
    con.execute(f"create table s as select * from read_csv('{landing}/schedules/*.csv')")
    con.execute(f"create table a as select * from read_csv('{landing}/actuals/*.csv')")
    con.execute(f"create table w as select * from read_json('{landing}/weather/*.jsonl')")
    yield lambda sql: con.execute(sql).fetchall()
    con.close()


def test_files_have_the_layout_of_the_real_export(synthetic, source, tmp_path):
    landing, result = synthetic
    real = tmp_path / "real"
    export_feeds(real, until=date(2013, 1, 1), source=source)

    days = [day.isoformat() for day in DAYS]
    assert (result.flights, result.days) == (FLIGHTS, len(DAYS))
    assert sorted(p.name for p in landing.iterdir()) == sorted(p.name for p in real.iterdir())
    for feed in DAILY:
        suffix = next((real / feed).iterdir()).suffix
        assert sorted(p.name for p in (landing / feed).iterdir()) == [f"{d}{suffix}" for d in days]
    for feed in ("schedules", "actuals"):
        header = (real / feed / "2013-01-01.csv").read_text().splitlines()[0]
        for path in (landing / feed).iterdir():
            lines = path.read_text().splitlines()
            assert lines[0] == header
            assert not any(".0," in line or line.endswith(".0") for line in lines[1:])
    for feed in ("weather", "forecasts"):
        real_row = json.loads((real / feed / "2013-01-01.jsonl").read_text().splitlines()[0])
        synthetic_row = json.loads(
            (landing / feed / "2013-01-01.jsonl").read_text().splitlines()[0]
        )
        assert list(synthetic_row) == list(real_row)
        assert synthetic_row["time_hour"] == "2013-01-01T05:00:00Z"  # local midnight, in UTC
    # The reference tables are the real ones, byte for byte.
    for name in ("planes.parquet", "airports.parquet", "airlines.csv"):
        assert (landing / "reference" / name).read_bytes() == (
            real / "reference" / name
        ).read_bytes()


def test_same_seed_same_bytes_another_seed_other_bytes(synthetic, source, tmp_path):
    landing, _ = synthetic
    again = write_synthetic_feeds(tmp_path / "again", FLIGHTS, seed=13, source=source)
    assert _files(tmp_path / "again") == _files(landing)
    assert len(again.written) == len(_files(landing))

    write_synthetic_feeds(tmp_path / "other", FLIGHTS, seed=14, source=source)
    other, mine = _files(tmp_path / "other"), _files(landing)
    assert other.keys() == mine.keys()
    for name in ("schedules/2013-01-05.csv", "actuals/2013-01-05.csv", "weather/2013-01-05.jsonl"):
        assert other[name] != mine[name]


def test_natural_key_is_unique_and_the_same_in_both_flight_feeds(query):
    assert query(
        "select count(*), count(distinct (flight_date, carrier, flight, origin)) from s"
    ) == [(FLIGHTS, FLIGHTS)]
    assert query(
        "select count(*) from s full join a using (flight_date, carrier, flight, origin) "
        "where s.dest is null or a.flight_date is null"
    ) == [(0,)]
    assert query("select count(*) from w group by origin, time_hour having count(*) > 1") == []


def test_the_loader_and_every_critical_expectation_accept_them(synthetic, tmp_path):
    landing, _ = synthetic
    copy = tmp_path / "landing"
    shutil.copytree(landing, copy)  # a quarantined file would move out of the shared one
    con = connect(tmp_path / "warehouse.duckdb")
    try:
        # The reference files are the real ones (above), whose suites test_quality covers:
        # validating them again costs GX seconds and proves nothing new.
        results = {
            **ingest_all(con, copy, tmp_path / "quarantine", feeds=REFERENCE_FEEDS),
            **ingest_all(
                con, copy, tmp_path / "quarantine", DAILY_FEEDS, quality=tmp_path / "quality"
            ),
        }
        assert {name: r.files_quarantined for name, r in results.items()} == {
            name: [] for name in results
        }
        assert con.execute("select count(*) from ingest.quarantined_rows").fetchone() == (0,)
        for spec in DAILY_FEEDS:
            validation = results[spec.name].validation
            assert validation.partitions == [d.isoformat() for d in DAYS]
            severities = {validation.severity_of(p) for p in validation.partitions}
            assert "critical" not in severities, (spec.name, validation.failures)
        assert con.execute("select count(*) from raw.actuals").fetchone() == (FLIGHTS,)
        assert con.execute("select count(*) from raw.weather").fetchone() == (len(DAYS) * 72,)
    finally:
        con.close()


def test_delays_look_like_2013(query):
    ((label, cancelled, diverted),) = query(
        "select avg((arr_delay >= 15 or arr_delay is null)::int), avg((dep_time is null)::int), "
        "avg((dep_time is not null and arr_delay is null)::int) from a"
    )
    assert 0.2 <= label <= 0.35
    assert 0.01 <= cancelled <= 0.05
    assert 0.0005 <= diverted <= 0.01
    # Cancelled: no departure at all; diverted: departed, never arrived.
    assert query(
        "select count(*) from a where (dep_time is null) <> (dep_delay is null) "
        "or (arr_delay is null) <> (arr_time is null) or (arr_delay is null) <> (air_time is null)"
    ) == [(0,)]
    ((wet, dry),) = query(
        """
        select avg(arr_delay) filter (where w.precip > 0),
            avg(arr_delay) filter (where w.precip = 0)
        from s join a using (flight_date, carrier, flight, origin)
        join w on w.origin = s.origin and w.obs_date = s.flight_date
            and w.hour = s.sched_dep_time // 100
        """
    )
    assert wet > dry + 10


def test_daylight_saving_days_have_23_and_25_hours(source, tmp_path):
    landing = tmp_path / "landing"
    # 900 flights: one day each.
    write_synthetic_feeds(landing, 900, start=date(2013, 3, 10), source=source)
    write_synthetic_feeds(landing, 900, start=date(2013, 11, 3), source=source)
    con = duckdb.connect()
    counts = con.execute(
        f"select obs_date::varchar, count(*), count(distinct (origin, time_hour)) "
        f"from read_json('{landing}/weather/*.jsonl') group by 1 order by 1"
    ).fetchall()
    assert counts == [("2013-03-10", 69, 69), ("2013-11-03", 75, 75)]


def test_a_carrier_beyond_9999_flights_at_an_airport_hands_over_the_surplus():
    origin = np.zeros(12_000, dtype=int)
    carrier = np.zeros(12_000, dtype=int)
    carrier[:100] = 1
    _spread_overflow(origin, carrier, 16)
    counts = np.bincount(carrier, minlength=16)
    assert counts.max() == MAX_FLIGHT_NUMBER and counts.sum() == 12_000
    # The surplus goes to the carrier with the most room (the first of the empty ones).
    assert counts[1] == 100 and counts[2] == 12_000 - 100 - MAX_FLIGHT_NUMBER
