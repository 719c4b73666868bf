"""`flightline debug` of an ingest batch: the load again, in-process, on the files it read
(kept by their content: a correction lands under the same name) and the books and raw days
it had, after the warehouse and landing/ have moved on."""

from datetime import date

import duckdb
import pandas as pd
from dagster import DagsterInstance, materialize

from ingest.provider.export import export_feeds
from ingest.settings import Settings
from orchestration.assets.ingest import ingest_assets
from orchestration.cli import main
from orchestration.resources import WarehouseResource

(ACTUALS,) = [asset for asset in ingest_assets if asset.key.path == ["raw", "actuals"]]


def _ingest(instance: DagsterInstance, first: str, last: str):
    result = materialize(
        [ACTUALS],
        instance=instance,
        resources={"warehouse": WarehouseResource()},
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    )
    # One materialization a day of the range, each with the load's metadata.
    materialized = result.asset_materializations_for_node(ACTUALS.op.name)[0]
    return result.run_id, {name: value.value for name, value in materialized.metadata.items()}


def _rewrite(home: Settings, day: str, minutes_late: int, unreadable_rows: int = 0) -> None:
    path = home.landing / "actuals" / f"{day}.csv"
    actuals = pd.read_csv(path, dtype=str, keep_default_na=False)
    delays = pd.to_numeric(actuals.arr_delay, errors="coerce") + minutes_late
    actuals["arr_delay"] = delays.astype("Int64").astype(str).replace("<NA>", "")
    actuals.loc[: unreadable_rows - 1, "arr_delay"] = "n/a"
    actuals.to_csv(path, index=False)


def test_an_ingest_batch_replays_on_the_files_it_read_after_they_were_replaced(
    home: Settings, source, capsys
):
    instance = DagsterInstance.ephemeral()
    export_feeds(home.landing, until=date(2013, 1, 3), source=source)
    _ingest(instance, "2013-01-01", "2013-01-03")
    # The batch to replay: the 2nd corrected (30 minutes later), the 4th new with one row
    # that does not parse (quarantined), the 3rd unchanged (skipped).
    _rewrite(home, "2013-01-02", 30)
    export_feeds(home.landing, until=date(2013, 1, 4), since=date(2013, 1, 4), source=source)
    _rewrite(home, "2013-01-04", 0, unreadable_rows=1)
    run_id, loaded = _ingest(instance, "2013-01-02", "2013-01-04")
    assert loaded["rows_quarantined"] == 1 and loaded["files_skipped_unchanged"] == 1
    # Moved on: the 2nd corrected again (its file in landing/ is no longer the one read),
    # the 5th loaded.
    _rewrite(home, "2013-01-02", 60)
    export_feeds(home.landing, until=date(2013, 1, 5), since=date(2013, 1, 5), source=source)
    _ingest(instance, "2013-01-02", "2013-01-05")

    assert main(["debug", run_id, "ingest_actuals"]) == 0
    out = capsys.readouterr().out
    assert (
        f"actuals: {loaded['rows_loaded']} rows loaded, 1 quarantined, 0 file(s) quarantined, "
        "1 unchanged" in out
    )
    scratch = home.home / "debug" / f"{run_id}-ingest_actuals" / "warehouse.duckdb"
    con = duckdb.connect(str(scratch), read_only=True)
    live = duckdb.connect(str(home.warehouse), read_only=True)
    try:
        delay = "select avg(arr_delay) from raw.actuals where flight_date = '2013-01-02'"
        replayed, now = con.execute(delay).fetchone()[0], live.execute(delay).fetchone()[0]
        assert abs(now - replayed - 60) < 1e-9  # the first correction, not the second
        assert con.execute("select max(flight_date)::varchar from raw.actuals").fetchone() == (
            "2013-01-04",
        )
    finally:
        con.close()
        live.close()

    # A file whose content is gone everywhere: the replay says so.
    for kept in (home.recorded / "files").glob("*.landed"):
        kept.unlink()
    assert main(["debug", run_id, "ingest_actuals"]) == 2
    assert "actuals/2013-01-02.csv: the content the load read" in capsys.readouterr().err
