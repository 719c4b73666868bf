"""The feeds flightline ingests: where they land, their format and their contract, as dbt's
sources declare them (dbt_project/models/staging/_ops__sources.yml, their one declaration).

Adding a feed is adding a table there (and a staging model for it): the loader, the Dagster
ingest assets and the sensor are all driven by this list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

from ingest.sources import FEEDS_YAML, Column, SourceTable, source_tables

# The pipeline's days (the domain's year): daily files are named by one of them, and Dagster's
# daily partitions are these (orchestration/partitions.py).
FIRST_DAY = date(2013, 1, 1)
LAST_DAY = date(2013, 12, 31)


@dataclass(frozen=True)
class FeedSpec:
    name: str
    description: str
    pattern: str
    """Glob relative to the landing directory."""
    format: Literal["csv", "jsonl", "parquet"]
    columns: tuple[Column, ...]
    natural_key: tuple[str, ...]
    partition_column: str | None = None
    """Daily feeds: the date column that must equal the file's date (its name). A file
    replaces its partition. Reference feeds (None): a file replaces the whole table."""

    def __post_init__(self) -> None:
        # The declaration is YAML: say which feed is declared wrong, and how.
        unknown = (set(self.natural_key) | {self.partition_column}) - {None}
        unknown -= set(self.column_names)
        if unknown:
            raise ValueError(f"the feed {self.name} keys on undeclared columns {sorted(unknown)}")
        if self.format not in ("csv", "jsonl", "parquet"):
            wanted = "csv, jsonl or parquet"
            raise ValueError(f"the feed {self.name} lands as {self.format!r}, not {wanted}")

    @property
    def table(self) -> str:
        return f"raw.{self.name}"

    @property
    def is_daily(self) -> bool:
        return self.partition_column is not None

    @property
    def column_names(self) -> list[str]:
        return [column.name for column in self.columns]


def _feed(table: SourceTable) -> FeedSpec:
    landing = table.meta.get("landing") or {}
    for key in ("pattern", "format"):
        if key not in landing or "natural_key" not in table.meta:
            raise ValueError(
                f"the feed {table.name} ({FEEDS_YAML.name}) declares no landing {key} or no "
                "natural_key under config.meta"
            )
    return FeedSpec(
        name=table.name,
        description=table.description,
        pattern=landing["pattern"],
        format=landing["format"],
        columns=table.columns,
        natural_key=tuple(table.meta["natural_key"]),
        partition_column=table.meta.get("partition_column"),
    )


# Declared once, as dbt's sources (dbt_project/models/staging/_ops__sources.yml): the loader
# and dbt read the same list.
FEEDS: tuple[FeedSpec, ...] = tuple(_feed(table) for table in source_tables(FEEDS_YAML))

FEEDS_BY_NAME = {feed.name: feed for feed in FEEDS}
DAILY_FEEDS = tuple(feed for feed in FEEDS if feed.is_daily)
REFERENCE_FEEDS = tuple(feed for feed in FEEDS if not feed.is_daily)
