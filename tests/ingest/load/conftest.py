"""The worlds the loader's tests start from."""

from datetime import date

import pytest

from ingest.load.loader import ingest_all
from ingest.provider.export import export_feeds
from ingest.warehouse import connect


@pytest.fixture
def world(tmp_path, source):
    """Three days of real feeds, and an open warehouse."""
    landing = tmp_path / "landing"
    export_feeds(landing, until=date(2013, 1, 3), source=source)
    con = connect(tmp_path / "warehouse.duckdb")
    yield landing, tmp_path / "quarantine", con
    con.close()


@pytest.fixture
def loaded_world(tmp_path, source):
    """Three days of real feeds loaded into a warehouse; the fourth day's files landed."""
    home = tmp_path / "home"
    landing = home / "landing"
    export_feeds(landing, until=date(2013, 1, 4), source=source)
    held = {p: p.read_bytes() for p in landing.rglob("*-01-04.*")}
    for path in held:
        path.unlink()
    con = connect(home / "warehouse" / "warehouse.duckdb")
    ingest_all(con, landing, home / "quarantine")
    for path, data in held.items():
        path.write_bytes(data)
    yield home, landing, con
    con.close()
