"""`flightline serve`: the online scorer (ml/online.py) over HTTP, with FastAPI.

Routes: `GET /flights/{flight_id}/score`, `POST /score` (up to MAX_BATCH flights),
`GET /health`; FastAPI serves the OpenAPI schema at /openapi.json and its pages at /docs.
Status codes: 422 for a malformed flight_id or an oversized batch (FastAPI's validation,
which names the field and the rule), 404 for flights the snapshot does not have, 503 when
nothing can be scored (no snapshot, no champion, a missing model artifact), each with a
`detail` that says what to do.

Flights the scorer keeps in memory (the last week's: tomorrow's are the online case) are
answered on the event loop, a dict lookup; everything that reads the snapshot, scores with
scikit-learn or opens a new snapshot runs in FastAPI's thread pool, so it never holds up the
event loop (/health too: it may open a new snapshot).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import FastAPI, Request
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ml.online import FLIGHT_ID_PATTERN, MAX_BATCH, OnlineScorer, Unavailable, UnknownFlights

FlightId = Annotated[
    str,
    Field(
        pattern=FLIGHT_ID_PATTERN,
        description="marts.fct_flights.flight_id: md5 of date, carrier, flight number, origin",
        examples=["1f1a0ba7c5e2b0f4d3c2a1e9f8d7c6b5"],
    ),
]


class FlightScore(BaseModel):
    """One flight's score: the row batch scoring writes to ml.predictions."""

    flight_id: str
    flight_date: date
    score: float = Field(description="probability of arriving 15+ minutes late")
    predicted_label: bool = Field(description="score >= threshold")
    threshold: float
    forecast_missing: bool = Field(description="scored without any forecast for its hour")


class Scored(BaseModel):
    model_version: str
    snapshot_published_at: datetime | None


class OneFlight(Scored, FlightScore):
    pass


class Batch(Scored):
    scores: list[FlightScore]


class BatchRequest(BaseModel):
    flight_ids: list[FlightId] = Field(min_length=1, max_length=MAX_BATCH)


class Health(BaseModel):
    status: Literal["ok"]
    model_version: str
    model_cutoff: date
    snapshot_published_at: datetime | None
    features_through: date | None = Field(description="the last flight date it can score")


class Problem(BaseModel):
    detail: str


async def _score(scorer: OnlineScorer, flight_ids: list[str]):
    """Flights kept in memory are answered on the event loop (a dict lookup: a thread-pool
    hop cost more than the answer); the rest, and a snapshot to open, in the thread pool."""
    return scorer.kept(flight_ids) or await run_in_threadpool(scorer.score, flight_ids)


def app_from_settings() -> FastAPI:
    """The app on this data directory's snapshot: what `flightline serve` runs (uvicorn
    builds it in each worker process)."""
    from ingest.publish import snapshot_path
    from ingest.settings import get_settings

    settings = get_settings()
    return create_app(OnlineScorer(snapshot_path(settings.warehouse), settings.serve_memory_days))


def create_app(scorer: OnlineScorer) -> FastAPI:
    app = FastAPI(
        title="flightline",
        summary="Will a flight out of New York arrive 15+ minutes late? The champion's score "
        "of one flight, from the analysts' snapshot, equal to the batch pipeline's.",
    )

    @app.exception_handler(Unavailable)
    def unavailable(request: Request, error: Unavailable) -> JSONResponse:
        return JSONResponse(status_code=503, content={"detail": str(error)})

    @app.exception_handler(UnknownFlights)
    def unknown(request: Request, error: UnknownFlights) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(error)})

    errors = {404: {"model": Problem}, 503: {"model": Problem}}

    @app.get("/health", response_model=Health, responses={503: {"model": Problem}})
    def health() -> Health:
        """What would score a request now: the champion and the snapshot's time."""
        snapshot = scorer.current()
        return Health(
            status="ok",
            model_version=snapshot.model.model_version,
            model_cutoff=snapshot.model.cutoff_date,
            snapshot_published_at=snapshot.published_at,
            features_through=snapshot.features_through,
        )

    @app.get("/flights/{flight_id}/score", response_model=OneFlight, responses=errors)
    async def score_flight(flight_id: Annotated[str, PathParam(pattern=FLIGHT_ID_PATTERN)]):
        """One flight's score, as the batch pipeline scores it."""
        snapshot, (prediction,) = await _score(scorer, [flight_id])
        return OneFlight(**prediction, snapshot_published_at=snapshot.published_at)

    @app.post("/score", response_model=Batch, responses=errors)
    async def score_batch(request: BatchRequest):
        """Up to MAX_BATCH flights in one call, in the order asked; all or none (404
        names the unknown ones)."""
        snapshot, predictions = await _score(scorer, request.flight_ids)
        return Batch(
            model_version=snapshot.model.model_version,
            snapshot_published_at=snapshot.published_at,
            scores=predictions,
        )

    return app
