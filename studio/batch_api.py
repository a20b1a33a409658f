"""POST /api/batches: many videos in one request, each a job of its own (one flow run per brief).

Every video of the batch goes through the same front door as POST /api/videos/generate (called in
process, with the caller's key), so it meets the same checks, vendor policy, queue limit and runner
concurrency; one bad brief gets its own error and the others start.
"""

from __future__ import annotations

from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, HTTPException, Request, Response
from pydantic import BaseModel, Field

__all__ = ["BatchCreated", "BatchRequest", "BatchVideo", "router"]


class BatchRequest(BaseModel):
    """The videos of a batch, each shaped like a POST /api/videos/generate body."""

    videos: list[dict[str, Any]] = Field(min_length=1, max_length=100,
                                         examples=[[{"brief": "How tides work", "durationSeconds": 30}]])


class BatchVideo(BaseModel):
    """One video of the batch: its job, or why it did not start."""

    index: int
    jobId: str | None = None
    statusUrl: str | None = None
    error: str | None = None


class BatchCreated(BaseModel):
    """The batch's jobs in the request's order; `started` of `len(videos)` began."""

    started: int
    videos: list[BatchVideo]


router = APIRouter(tags=["videos"])


@router.post("/api/batches", response_model=BatchCreated, status_code=202,
             responses={422: {"description": "No video of the batch could start; each says why."}})
async def create_batch(body: BatchRequest, request: Request, response: Response,
                       key: Annotated[str | None, Header(alias="X-API-Key")] = None) -> BatchCreated:
    """Start one job per video; a bad video is reported by its index and the rest start."""
    headers = {"X-API-Key": key} if key else {}
    made: list[BatchVideo] = []
    transport = httpx.ASGITransport(app=request.app, client=("127.0.0.1", 0))
    async with httpx.AsyncClient(transport=transport, base_url=str(request.base_url), timeout=60) as client:
        for index, video in enumerate(body.videos, 1):
            answer = await client.post("/api/videos/generate", json=video, headers=headers)
            if answer.status_code == 401:
                raise HTTPException(401, "a valid API key is required in the X-API-Key header")
            data = answer.json() if answer.headers.get("content-type", "").startswith("application/json") else {}
            if answer.status_code == 202:
                made.append(BatchVideo(index=index, jobId=data["jobId"], statusUrl=data["statusUrl"]))
            else:
                made.append(BatchVideo(index=index, error=f"videos[{index}]: {data.get('message', answer.text)}"))
    started = sum(v.jobId is not None for v in made)
    if not started:
        response.status_code = 422
    return BatchCreated(started=started, videos=made)
