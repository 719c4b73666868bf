"""Every table the Python side of flightline owns in the warehouse, defined here once; dbt
reads them as sources (dbt_project/models/*/_*__sources.yml) and builds everything else.

- raw.<feed>: one per catalogued feed (ingest/catalog.py), with the load's columns;
- ingest.file_log, ingest.quarantined_rows, ingest.accepted_files: the loader's books;
- ml.model_registry (ml/registry.py), ml.predictions (ml/scoring.py), ml.feature_drift
  (ml/drift.py): written by the ML steps.

`ensure_tables` creates what is missing, and brings tables made by an older flightline up to
date (added columns, rewritten values), on every writable connection
(ingest/warehouse.connect). So a warehouse that holds raw tables holds all of these too: dbt
needs no copy of them (its first hook stops a build on a warehouse without raw tables).
Changing a table: add the column with `alter table … add column if not exists` after its
`create`, never only in the `create`.
"""

from __future__ import annotations

import duckdb

from ingest.catalog import FEEDS, FeedSpec
from ingest.warehouse import quote_name

INGEST_TABLES = (
    "create schema if not exists raw",
    "create schema if not exists ingest",
    """
    create table if not exists ingest.file_log (
        batch_id varchar not null,
        feed varchar not null,
        source_file varchar not null,
        content_hash varchar not null,
        partition_key varchar,
        status varchar not null,
        rows_read bigint not null,
        rows_loaded bigint not null,
        rows_quarantined bigint not null,
        reason varchar,
        logged_at timestamptz not null
    )
    """,
    """
    create table if not exists ingest.quarantined_rows (
        batch_id varchar not null,
        feed varchar not null,
        source_file varchar not null,
        content_hash varchar not null,
        partition_key varchar,
        row_number bigint,
        reason varchar not null,
        raw_record varchar,
        quarantined_at timestamptz not null
    )
    """,
    # Corrections of a loaded day that an operator accepted although rows of them fail
    # (`flightline ingest --accept FILE`): by content, so only those exact bytes.
    """
    create table if not exists ingest.accepted_files (
        feed varchar not null,
        content_hash varchar not null,
        accepted_at timestamptz not null
    )
    """,
)

REGISTRY_DDL = """
create schema if not exists ml;
create table if not exists ml.model_registry (
    model_version varchar primary key,
    trained_at timestamptz not null,
    trigger varchar not null,
    cutoff_date date not null,
    training_start date not null,
    training_end date not null,
    validation_start date not null,
    validation_end date not null,
    training_rows bigint not null,
    validation_rows bigint not null,
    feature_columns varchar[] not null,
    code_version varchar not null,
    data_fingerprint varchar not null,
    algorithm varchar not null,
    params json not null,
    metrics json not null,
    validation_roc_auc double not null,
    threshold double not null,
    artifact_path varchar not null,
    status varchar not null,
    decision varchar,
    decision_reason varchar,
    champion_roc_auc_on_validation double,
    decided_at timestamptz
);
"""

PREDICTIONS_DDL = """
create schema if not exists ml;
create table if not exists ml.predictions (
    flight_id varchar not null,
    flight_date date not null,
    model_version varchar not null,
    score double not null,
    predicted_label boolean not null,
    threshold double not null,
    scored_at timestamptz not null,
    forecast_missing boolean not null default false
);
-- Tables made before the column: every row scored then had its forecast.
alter table ml.predictions add column if not exists forecast_missing boolean default false;
"""

FEATURE_DRIFT_DDL = """
create schema if not exists ml;
create table if not exists ml.feature_drift (
    flight_date date not null,
    model_version varchar not null,
    feature varchar not null,
    kind varchar not null,
    psi double not null,
    status varchar not null,
    psi_recent double,
    alerting boolean,
    window_start date not null,
    window_end date not null,
    window_rows bigint not null,
    computed_at timestamptz not null
);
-- Tables created before the recent reference (added to existing tables, not rebuilt):
alter table ml.feature_drift add column if not exists psi_recent double;
alter table ml.feature_drift add column if not exists alerting boolean;
"""


def ensure_tables(con: duckdb.DuckDBPyConnection, feeds: tuple[FeedSpec, ...] = FEEDS) -> None:
    for statement in INGEST_TABLES:
        con.execute(statement)
    for statement in (REGISTRY_DDL, PREDICTIONS_DDL, FEATURE_DRIFT_DDL):
        con.execute(statement)
    for spec in feeds:
        columns = ", ".join(f"{quote_name(column.name)} {column.type}" for column in spec.columns)
        con.execute(
            f"create table if not exists {spec.table} ({columns}, _source_file varchar, "
            "_content_hash varchar, _row_number bigint, _loaded_at timestamptz, "
            "_batch_id varchar)"
        )
    _relative_source_files(con, feeds)


# `<anything>/landing/<folder>/<name>` -> `<folder>/<name>`: every landed file is one folder
# deep (a feed's, or `reference`), and a name holds no `/`.
_LANDED = r"^.*/landing/([^/]+/[^/]+)$"


def _relative_source_files(con: duckdb.DuckDBPyConnection, feeds: tuple[FeedSpec, ...]) -> None:
    """Warehouses written before source files were recorded relative to landing/ (absolute
    paths): rewrite them once, in one transaction, so their files are not new again."""
    # On every writable connection: stop at the first such row instead of counting them.
    (absolute,) = con.execute(
        "select exists (select 1 from ingest.file_log where regexp_matches(source_file, ?))",
        [_LANDED],
    ).fetchone()
    if not absolute:
        return
    con.execute("begin transaction")
    try:
        tables = [("ingest.file_log", "source_file"), ("ingest.quarantined_rows", "source_file")]
        tables += [(spec.table, "_source_file") for spec in feeds]
        for table, column in tables:
            con.execute(
                f"update {table} set {column} = regexp_replace({column}, ?, '\\1') "
                f"where regexp_matches({column}, ?)",
                [_LANDED, _LANDED],
            )
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise
