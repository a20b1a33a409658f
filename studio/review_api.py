"""GET/POST /api/videos/{jobId}/review: the script a job waits on in review, and the person's answer.

A job made with `"review": true` stops after its script (suspended by Prefect: no runner slot waits
with it). The web page reads the waiting script here and answers here; the Prefect UI's form and
`aura review` answer the same run the same way (Prefect's resume with run input).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from studio.security import ApiKeys

__all__ = ["ReviewAnswer", "ReviewWaiting", "review_parameters", "router"]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="Required when keys are configured.")
JobId = Annotated[str, Path(description="The job id: its Prefect flow run id.", min_length=32, max_length=36)]


class ReviewWaiting(BaseModel):
    """The script a job waits on: as markdown (what the Prefect UI shows) and as fields to edit."""

    jobId: str
    state: str
    description: str
    cost: str = Field(description="What the rest of the run costs once approved.")
    script: dict[str, Any]


class ReviewAnswer(BaseModel):
    """Approve (the script as it is, or `title`/`scenes` edited) or reject with a reason."""

    decision: Literal["approve", "reject"]
    title: str | None = Field(None, min_length=1, max_length=200)
    scenes: list[dict[str, Any]] | None = Field(None, min_length=1, max_length=240)
    reason: str = Field("", max_length=1000)


def _require_key(request: Request, key: Annotated[str | None, Depends(_api_key)]) -> None:
    """The API's key check, from the app's settings (a router cannot reach create_app's own)."""
    settings = request.app.state.settings
    keys = ApiKeys(settings.key_list(), settings.token_secret.get_secret_value())
    if keys.required and not keys.check(key):
        raise HTTPException(401, "a valid API key is required in the X-API-Key header")


def _run_id(job_id: str) -> UUID:
    try:
        return UUID(job_id)
    except ValueError:
        raise HTTPException(404, f"no job {job_id}") from None


def _cost(description: str) -> str:
    """The cost line of the review text (the bold part after 'costs')."""
    import re

    found = re.search(r"costs \*\*(.+?)\*\*", description)
    return found.group(1) if found else ""


def _waiting(job_id: str) -> Any:
    from prefect.exceptions import ObjectNotFound

    from tasks.review import pending_review

    try:
        waiting = pending_review(_run_id(job_id))
    except ObjectNotFound:
        raise HTTPException(404, f"no job {job_id}") from None
    if waiting is None:
        raise HTTPException(409, "this job is not waiting in review (not made with review, answered or ended)")
    return waiting


router = APIRouter(tags=["review"])
_ANSWERS: dict[int | str, dict[str, Any]] = {
    401: {"description": "A valid API key is required."},
    404: {"description": "No such job."},
    409: {"description": "The job is not waiting in review."},
    422: {"description": "The edited script is not usable: the message names the scene and field."},
}


@router.get("/api/videos/{job_id}/review", response_model=ReviewWaiting, dependencies=[Depends(_require_key)],
            responses=_ANSWERS)
async def review_waiting(job_id: JobId) -> ReviewWaiting:
    """The script the job waits on, with what the rest of the run costs."""
    waiting = await run_in_threadpool(_waiting, job_id)
    return ReviewWaiting(jobId=waiting.flow_run_id, state=waiting.state, description=waiting.description,
                         cost=_cost(waiting.description),
                         script=waiting.script.model_dump(mode="json", include={"title", "scenes"}))


@router.post("/api/videos/{job_id}/review", response_model=ReviewWaiting, status_code=202,
             dependencies=[Depends(_require_key)], responses=_ANSWERS)
async def review_answer(job_id: JobId, answer: ReviewAnswer) -> ReviewWaiting:
    """Answer the review: the job renders (the edited) script, or ends cancelled with the reason."""
    from tasks.review import review_answer as resume
    from tasks.script import ScriptFileError, given_script

    waiting = await run_in_threadpool(_waiting, job_id)
    edited = None
    if answer.decision == "approve" and (answer.title is not None or answer.scenes is not None):
        body = {"title": answer.title or waiting.script.title,
                "scenes": answer.scenes if answer.scenes is not None else
                [s.model_dump(mode="json") for s in waiting.script.scenes]}
        try:
            edited = given_script(body)
        except ScriptFileError as exc:
            raise HTTPException(422, f"script: {exc}") from None
    await run_in_threadpool(resume, waiting.flow_run_id, answer.decision, edited, answer.reason)
    script = edited or waiting.script
    return ReviewWaiting(jobId=waiting.flow_run_id, state="Resuming", description=waiting.description,
                         cost=_cost(waiting.description),
                         script=script.model_dump(mode="json", include={"title", "scenes"}))


def review_parameters(body: Any) -> dict[str, Any]:
    """The `review` and `script` parameters of a job's flow run, from a request with those fields (422 if bad)."""
    from studio.jobs import JobError
    from tasks.script import ScriptFileError, given_script

    extra: dict[str, Any] = {}
    if getattr(body, "review", False):
        extra["review"] = True
    if getattr(body, "script", None) is not None:
        try:
            extra["script"] = given_script(body.script.model_dump(exclude_none=True)).model_dump(mode="json")
        except ScriptFileError as exc:
            raise JobError(422, "invalid_script", f"script: {exc}") from None
    return extra
