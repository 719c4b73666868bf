"""What a load returns: one FileOutcome per file it saw, gathered in an IngestResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ingest.landing import Staged
from ingest.quality import Validation

# The content hash logged for a file that could not be read (a link, not a regular file).
UNREAD = "unread"


@dataclass
class FileOutcome:
    feed: str
    path: Path
    content_hash: str
    partition_key: str | None
    status: str  # loaded | quarantined | duplicate | deferred
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    reason: str | None = None
    staged: Staged | None = field(default=None, repr=False)
    """The file as read (ingest/landing.py): None when it could not be read at all."""
    is_correction: bool = False
    """A new version of a day (or reference table) already loaded, not accepted by hand."""
    source: str = ""
    """The file as the warehouse records it (source_file, _source_file): landing/'s
    relative path (ingest/landing.source_name)."""


@dataclass
class IngestResult:
    batch_id: str
    outcomes: list[FileOutcome] = field(default_factory=list)
    skipped: int = 0
    seconds: float = 0.0
    validation: Validation | None = None
    """The expectation suite's verdicts on what this call loaded (None: not validated)."""

    def _sum(self, attribute: str) -> int:
        return sum(getattr(outcome, attribute) for outcome in self.outcomes)

    @property
    def rows_read(self) -> int:
        return self._sum("rows_read")

    @property
    def rows_loaded(self) -> int:
        return self._sum("rows_loaded")

    @property
    def rows_quarantined(self) -> int:
        return self._sum("rows_quarantined")

    @property
    def files_quarantined(self) -> list[FileOutcome]:
        return [outcome for outcome in self.outcomes if outcome.status == "quarantined"]

    @property
    def partitions(self) -> list[str]:
        return sorted({outcome.partition_key for outcome in self.outcomes if outcome.partition_key})

    def merge(self, other: IngestResult) -> None:
        self.outcomes.extend(other.outcomes)
        self.skipped += other.skipped
        self.seconds += other.seconds
