"""Aura's REST API: start a video job, follow it live (SSE), download the MP4, cancel, list.

Every job is a flow run of a deployment that a Prefect runner or worker executes (`studio/jobs.py`),
so a job's state and progress live in Prefect and outlive the API process. Errors are JSON
`{"error": CODE, "message": TEXT}`; never a stack trace. Other modules add their routes with
`create_app(routers=[...])` (or `app.include_router` on the app it returns).
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware

from studio import batch_api, review_api, voices_api
from studio.jobs import Job, JobError, JobEvent, JobManager, parse_job_id
from studio.retention import EXPIRED_MARK
from studio.review_api import review_parameters
from studio.runner import DEFAULT_DEPLOYMENT
from studio.security import (
    ApiKeys,
    BodyLimitMiddleware,
    RateLimiter,
    RateLimitMiddleware,
    SecurityHeadersMiddleware,
    error_body,
)
from studio.sse import job_stream
from tasks.requests import allowed_vendors
from tasks.schemas import MAX_DURATION, MIN_DURATION

__all__ = ["ApiSettings", "GenerateRequest", "create_app"]

log = logging.getLogger("aura.api")

WEB_DIR = Path(__file__).parent / "web"
_SPEC = r"^[a-z][a-z0-9-]{0,30}(:[A-Za-z0-9._/@+-]{0,200})?$"
_VOICE = r"^[A-Za-z0-9._@+-]{1,100}(:[A-Za-z0-9._/@+-]{1,200})?$"
_CORRELATION = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class ApiSettings(BaseSettings):
    """API settings, as `AURA_API_<NAME>` environment variables or in `.env`."""

    model_config = SettingsConfigDict(env_prefix="AURA_API_", env_file=".env", extra="ignore", populate_by_name=True)

    keys: SecretStr = Field(default=SecretStr(""), description="Comma-separated API keys; empty: no key needed.")
    token_secret: SecretStr = Field(default=SecretStr(""),
                                    description="Secret for job link tokens (default: derived from the keys).")
    cors_origins: str = Field(default="", description="Comma-separated origins allowed by CORS, or '*'.")
    rate_per_minute: float = Field(default=600, ge=0, description="Requests per minute per client (0: no limit).")
    rate_burst: int = Field(default=120, ge=1, description="Requests a client may make at once.")
    generate_per_minute: float = Field(default=10, ge=0, description="New jobs per minute per client (0: no limit).")
    generate_burst: int = Field(default=5, ge=1, description="New jobs a client may start at once.")
    max_body_bytes: int = Field(default=16_384, ge=1024, le=10_000_000, description="Largest request body.")
    max_streams: int = Field(default=500, ge=1, description="Open event streams at once, all clients together.")
    heartbeat_seconds: float = Field(default=15, gt=0, le=300, description="Seconds between SSE heartbeats.")
    deployment: str = Field(default="", validation_alias=AliasChoices("AURA_API_DEPLOYMENT", "AURA_DEPLOYMENT"),
                            description="Deployment to run jobs through (FLOW/NAME), served by your own workers; "
                                        "empty: the runner `aura serve` starts, with its own deployment.")
    max_jobs: int = Field(default=2, ge=1, le=64, description="Jobs `aura serve`'s runner renders at once.")
    max_queue: int = Field(default=20, ge=0, le=10_000, description="Jobs waiting at most (0: no limit).")
    pickup_seconds: float = Field(default=15, gt=0, le=3600,
                                  description="A job no runner has polled for within this time fails, saying why.")
    trusted_proxies: str = Field(default="", description="Comma-separated addresses of reverse proxies whose "
                                 "X-Forwarded-For is believed; empty: none (the peer's address is the client's).")
    max_duration: float = Field(default=MAX_DURATION, ge=MIN_DURATION, le=MAX_DURATION,
                                description="Longest video (seconds) a request may ask for.")
    keep_days: float = Field(default=7, ge=0, le=3650,
                             description="Days the videos and working media of ended jobs are kept (0: forever).")
    allowed_providers: str = Field(
        default="local,espeak,cards,ffmpeg",
        description="Provider vendors a request may choose (the server's own defaults are always allowed).")

    def key_list(self) -> list[str]:
        """The API keys, without blanks."""
        return [k.strip() for k in self.keys.get_secret_value().split(",") if k.strip()]

    def origins(self) -> list[str]:
        """The CORS origins."""
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


# ---------------------------------------------------------------------------------------------
# wire models


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerateOptions(_Strict):
    """The main options of a video; every one has a default."""

    audience: str | None = Field(None, max_length=200, description="Who will watch it.")
    goal: str | None = Field(None, max_length=300, description="What viewers should know or do afterwards.")
    tone: str | None = Field(None, max_length=60, description="Tone of the narration.")
    language: str | None = Field(None, max_length=20, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
                                 description="Narration language code, e.g. en.")
    pacing: Literal["chill", "conversational", "fast"] | None = None
    density: Literal["sparse", "balanced", "dense"] | None = None
    aspect: Literal["16:9", "9:16", "1:1"] | None = Field(None, description="Frame shape.")
    fps: Literal[24, 25, 30, 60] | None = Field(None, description="Frames per second.")
    resolution: Literal["360p", "480p", "720p", "1080p", "2160p"] | None = Field(None, description="Frame size.")
    quality: Literal["draft", "standard", "high"] | None = None
    captions: bool | None = Field(None, description="Burn in captions.")
    motion: bool | None = Field(None, description="Slow zoom on each image.")


class ProviderChoices(_Strict):
    """Provider specs for this job (only vendors the server allows)."""

    llm: str | None = Field(None, max_length=232, pattern=_SPEC, examples=["local"])
    tts: str | None = Field(None, max_length=232, pattern=_SPEC, examples=["espeak:en-us"])
    images: str | None = Field(None, max_length=232, pattern=_SPEC, examples=["local"])
    renderer: str | None = Field(None, max_length=232, pattern=_SPEC, examples=["ffmpeg"])


class ScriptSceneBody(_Strict):
    """One scene of a given script."""

    title: str = Field(min_length=1, max_length=200, pattern=r"\S")
    narration: str = Field(min_length=1, max_length=5000, pattern=r"\S", description="What the voice says.")
    visual_prompt: str = Field(min_length=1, max_length=1000, pattern=r"\S", description="What the scene shows.")
    queries: list[Annotated[str, Field(max_length=100)]] = Field(default_factory=list, max_length=3,
                                                                 description="Footage search terms in English.")


class ScriptBody(_Strict):
    """A script to render as it is (the writer is skipped)."""

    title: str = Field(min_length=1, max_length=200, pattern=r"\S")
    scenes: list[ScriptSceneBody] = Field(min_length=1, max_length=200)


class GenerateRequest(_Strict):
    """A video request: the brief, and optionally a voice, a visual style, a length and options."""

    brief: str = Field(min_length=1, max_length=500, description="What the video is about.",
                       examples=["How honeybees communicate"])
    voiceId: str | None = Field(None, max_length=301, pattern=_VOICE,
                                description="A voice from the TTS engine's list (GET /api/voices), or vendor:voice; "
                                            "an unknown voice is refused (422).")
    style: str | None = Field(None, max_length=200, description="Visual style words for the images.")
    durationMinutes: float | None = Field(None, ge=MIN_DURATION / 60, le=MAX_DURATION / 60,
                                          description="Target length in minutes (default 1).")
    durationSeconds: float | None = Field(None, ge=MIN_DURATION, le=MAX_DURATION,
                                          description="Target length in seconds (instead of durationMinutes).")
    options: GenerateOptions = Field(default_factory=GenerateOptions)
    providers: ProviderChoices | None = None
    review: bool = Field(False, description="Stop after the script until it is approved, edited or rejected "
                                            "(GET/POST /api/videos/{jobId}/review, or the Prefect UI).")
    script: ScriptBody | None = Field(None, description="A script to render instead of writing one.")

    @model_validator(mode="after")
    def _one_duration(self) -> GenerateRequest:
        if {"durationMinutes", "durationSeconds"} <= self.model_fields_set:
            raise ValueError("give durationMinutes or durationSeconds, not both")
        return self


class JobCreated(BaseModel):
    """The answer to a new job."""

    jobId: str
    status: str
    correlationId: str
    createdAt: datetime
    statusUrl: str
    streamUrl: str


class ProcessingStep(BaseModel):
    """One stage of the pipeline."""

    stage: str
    status: str
    done: int
    total: int
    weight: int
    percentage: float


class JobStatus(BaseModel):
    """Where a job stands."""

    jobId: str
    status: Literal["pending", "running", "cancelling", "done", "failed", "cancelled"]
    progressPercentage: float
    currentStage: str | None
    message: str
    estimatedSecondsRemaining: float | None
    videoUrl: str | None
    streamUrl: str
    createdAt: datetime
    completedAt: datetime | None
    processingSteps: list[ProcessingStep]
    error: str | None
    correlationId: str | None
    topic: str
    prefectState: str


class JobList(BaseModel):
    """Recent jobs, newest first."""

    jobs: list[JobStatus]


class Health(BaseModel):
    """Whether the API and its Prefect backend answer."""

    status: Literal["ok", "degraded"]
    prefect: bool
    deployment: str
    authRequired: bool


class ErrorBody(BaseModel):
    """Every error answer."""

    error: str
    message: str


_UUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
# documented as a UUID, checked by hand: anything else gets a 400 that says what a job id looks like
JobId = Annotated[str, PathParam(description="The job id: its Prefect flow run id.",
                                 json_schema_extra={"format": "uuid", "pattern": _UUID_PATTERN})]

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="Required when keys are configured.")

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 410, 413, 422, 429, 503)
}


# ---------------------------------------------------------------------------------------------
# the app


def create_app(settings: ApiSettings | None = None, manager: JobManager | None = None,
               routers: Sequence[APIRouter] = ()) -> FastAPI:
    """The FastAPI app; `manager` defaults to one under AURA_HOME for the settings' deployment."""
    from providers.settings import get_settings

    settings = settings or ApiSettings()
    aura = get_settings()
    keys = ApiKeys(settings.key_list(), settings.token_secret.get_secret_value())
    manager = manager or JobManager(
        aura.home.expanduser(), settings.deployment or f"make-video/{DEFAULT_DEPLOYMENT}",
        max_queue=settings.max_queue, keep_seconds=settings.keep_days * 86_400, pickup_seconds=settings.pickup_seconds,
    )
    defaults = {"llm": aura.llm, "tts": aura.tts, "images": aura.images, "renderer": aura.renderer}
    allowed = allowed_vendors(settings.allowed_providers, defaults)
    streams = {"open": 0}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await manager.open()
        try:
            yield
        finally:
            await manager.close()

    app = FastAPI(
        title="Aura Studio API", version="0.1.0", lifespan=lifespan,
        description="Brief → narrated, captioned MP4. Each job is a Prefect flow run; progress streams over SSE.",
    )
    app.state.manager = manager
    app.state.settings = settings

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            app.openapi_schema = _tighten(schema, allowed, settings.max_duration)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    # -- errors: always JSON, never a traceback

    @app.exception_handler(JobError)
    async def _job_error(_: Request, exc: JobError) -> JSONResponse:
        return JSONResponse(error_body(exc.code, exc.message), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            first = next(e for e in errors if e.get("type") == "json_invalid")
            reason = (first.get("ctx") or {}).get("error", "")
            return JSONResponse(error_body("malformed_json", f"the body is not valid JSON: {reason}".rstrip(": ")),
                                status_code=400)
        details = [{"field": _field(e.get("loc", ())), "message": _explain(e)} for e in errors[:20]]
        message = "; ".join(f"{d['field']}: {d['message']}" if d["field"] else d["message"] for d in details[:3])
        return JSONResponse(error_body("invalid_request", message, details=details), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
        message = str(exc.detail) if exc.status_code != 404 or exc.detail != "Not Found" else "no such endpoint"
        return JSONResponse(error_body(codes.get(exc.status_code, "http_error"), message),
                            status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(httpx.TransportError)
    async def _prefect_down(request: Request, exc: httpx.TransportError) -> JSONResponse:
        log.warning("Prefect API unreachable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse(error_body("backend_unavailable", "the Prefect API is not answering; try again shortly"),
                            status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        ref = uuid.uuid4().hex[:12]
        log.error("unexpected error %s on %s %s", ref, request.method, request.url.path, exc_info=exc)
        return JSONResponse(error_body("internal_error", f"unexpected server error (reference {ref})"),
                            status_code=500)

    # -- access

    # the OpenAPI schema declares the key only when one is needed
    def require_key(key: Annotated[str | None, Depends(api_key_header)]) -> None:
        if not keys.check(key):
            raise JobError(401, "unauthorized", "a valid API key is required in the X-API-Key header")

    def job_or_token(
        key: Annotated[str | None, Depends(api_key_header)],
        job_id: JobId,
        token: Annotated[str | None, Query(max_length=64, description="Job link token (instead of a key).")] = None,
    ) -> None:
        if not keys.check(key) and not keys.check_token(job_id, token):
            raise JobError(401, "unauthorized", "a valid API key (X-API-Key) or this job's link token is required")

    def open_access() -> None:
        return None

    if not keys.required:
        require_key = job_or_token = open_access  # type: ignore[assignment]  # noqa: F811

    def job_uuid(job_id: JobId) -> uuid.UUID:
        parsed = parse_job_id(job_id)
        if parsed is None:
            raise JobError(400, "invalid_job_id",
                           "the job id must be a UUID such as 0b8e2c1e-5a8f-4c5e-9d43-6f1d2a7b9c10")
        return parsed

    def links(job_id: JobId) -> tuple[str, str]:
        suffix = f"?token={keys.token(job_id)}" if keys.required else ""
        return f"/api/videos/{job_id}/stream{suffix}", f"/api/videos/{job_id}/download{suffix}"

    def status_of(job: Job) -> JobStatus:
        stream_url, video_url = links(job.job_id)
        terminal = job.terminal or {}
        has_video = terminal.get("status") == "done" and bool(terminal.get("video"))
        view = job.view
        failed = job.terminal is not None and terminal["status"] != "done"
        return JobStatus(
            jobId=job.job_id, status=job.status,  # type: ignore[arg-type]
            progressPercentage=view.percentage if job.terminal is not None else view.live_percentage,
            currentStage=view.current, message=terminal.get("message", "") if failed else view.message,
            estimatedSecondsRemaining=0.0 if has_video else (None if failed else view.eta),
            videoUrl=video_url if has_video else None, streamUrl=stream_url, createdAt=job.created_at,
            completedAt=job.end_time if job.terminal is not None else None,
            processingSteps=[ProcessingStep(**s) for s in job.steps()],
            error=terminal.get("message") if failed else None,
            correlationId=job.correlation_id or None, topic=job.topic, prefectState=job.state_name,
        )

    def build(request: GenerateRequest) -> tuple[Any, Any, Any]:
        from tasks.requests import RequestError, request_from_api

        try:  # the one vocabulary the CLI shares: checked as far as it can be before anything runs
            made = request_from_api(request.model_dump(), defaults=defaults, allowed=allowed,
                                    max_duration=settings.max_duration)
        except RequestError as exc:
            if exc.code == "storage":  # the server's disk, not the request, is the problem
                raise JobError(507, "storage", f"this server cannot take the job now: {exc.message}") from None
            raise JobError(422, exc.code, f"{exc.field}: {_clean(exc.message)}") from None
        return made.brief, made.render, made.providers

    # -- routes

    @app.post("/api/videos/generate", status_code=202, response_model=JobCreated, tags=["videos"],
              dependencies=[Depends(require_key)], responses=_ERRORS)
    async def generate(
        body: GenerateRequest,
        response: Response,
        correlation: Annotated[str | None, Header(alias="X-Correlation-ID", max_length=64)] = None,
    ) -> JobCreated:
        """Start a video job; follow it with /status or /stream."""
        brief, render, providers = build(body)
        correlation_id = correlation if correlation and _CORRELATION.fullmatch(correlation) else str(uuid.uuid4())
        job = await manager.submit(brief, render, providers, correlation_id, extra=review_parameters(body))
        stream_url, _ = links(job.job_id)
        response.headers["Location"] = f"/api/videos/{job.job_id}/status"
        response.headers["X-Correlation-ID"] = correlation_id
        return JobCreated(jobId=job.job_id, status="pending", correlationId=correlation_id, createdAt=job.created_at,
                          statusUrl=f"/api/videos/{job.job_id}/status", streamUrl=stream_url)

    @app.get("/api/videos", response_model=JobList, tags=["videos"], dependencies=[Depends(require_key)],
             responses=_ERRORS)
    async def list_jobs(limit: Annotated[int, Query(ge=1, le=100)] = 20) -> JobList:
        """Recent jobs, newest first."""
        return JobList(jobs=[status_of(job) for job in await manager.recent(limit)])

    @app.get("/api/videos/{job_id}/status", response_model=JobStatus, tags=["videos"],
             dependencies=[Depends(require_key)], responses=_ERRORS)
    async def status(job_id: JobId) -> JobStatus:
        """Where a job stands: state, percentage, stage, and the video's URL once done."""
        return status_of(await manager.get(job_uuid(job_id)))

    @app.get("/api/videos/{job_id}/stream", tags=["videos"], dependencies=[Depends(job_or_token)],
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "Events `progress`, `done`, `error`; comment heartbeats."},
                        204: {"description": "The stream has already ended for this Last-Event-ID."}, **_ERRORS})
    async def stream(
        job_id: JobId,
        last_event_id: Annotated[str, Header(
            alias="Last-Event-ID", max_length=20, pattern=r"^\s*[0-9]{0,12}\s*$",
            description="Id of the last event received (browsers send it on reconnect).")] = "",
        last_event_query: Annotated[int | None, Query(alias="lastEventId", ge=0, le=10**9)] = None,
    ) -> Response:
        """Live progress as server-sent events; reconnect with Last-Event-ID to miss nothing."""
        job = await manager.get(job_uuid(job_id))
        last = last_event_query or 0
        if last_event_id.strip():
            last = int(last_event_id.strip())
        terminal_id = job.events[-1].id if job.terminal is not None and job.events else None
        if terminal_id is not None and last >= terminal_id:
            return Response(status_code=204)
        if streams["open"] >= settings.max_streams:
            raise JobError(503, "too_many_streams", "too many open event streams; retry in a few seconds")
        _, video_url = links(job.job_id)

        def decorate(event: JobEvent) -> dict[str, Any]:
            data = {"jobId": job.job_id, **event.data}
            if event.kind == "done":
                data["videoUrl"] = video_url if (job.terminal or {}).get("video") else None
            return data

        async def body() -> AsyncIterator[bytes]:
            streams["open"] += 1
            try:
                async for chunk in job_stream(job, last, decorate=decorate, heartbeat=settings.heartbeat_seconds,
                                              closing=lambda: manager.closing):
                    yield chunk
            finally:
                streams["open"] -= 1

        return StreamingResponse(body(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.head("/api/videos/{job_id}/download", include_in_schema=False, dependencies=[Depends(job_or_token)])
    @app.get("/api/videos/{job_id}/download", tags=["videos"], dependencies=[Depends(job_or_token)],
             responses={200: {"content": {"video/mp4": {}}, "description": "The MP4 (Range requests work)."},
                        206: {"description": "Part of the MP4."}, 416: {"description": "Range not satisfiable."},
                        **_ERRORS})
    async def download(job_id: JobId) -> Response:
        """The finished MP4; supports HTTP Range, so a player can seek (served from disk if Prefect is away)."""
        from tasks.naming import slug

        ident = job_uuid(job_id)
        try:
            job = await manager.get(ident)
        except httpx.TransportError:
            ended = manager.ended_offline(ident)  # a finished video needs no Prefect
            if ended is None or ended.get("status") != "done":
                raise
            path = _video_path(ended.get("video"), manager.videos_dir, manager.jobs_dir / str(ident))
            return FileResponse(path, media_type="video/mp4", filename=f"{slug(str(ended.get('topic', '')))}.mp4",
                                content_disposition_type="inline")
        if job.status != "done":
            raise JobError(409, "not_ready", f"the job is {job.status}: there is no video to download")
        path = _video_path((job.terminal or {}).get("video"), manager.videos_dir, job.folder)
        return FileResponse(path, media_type="video/mp4", filename=f"{slug(job.topic)}.mp4",
                            content_disposition_type="inline")

    @app.post("/api/videos/{job_id}/cancel", response_model=JobStatus, tags=["videos"],
              dependencies=[Depends(require_key)], responses=_ERRORS)
    async def cancel(job_id: JobId) -> JobStatus:
        """Cancel a pending or running job (its flow run is cancelled in Prefect)."""
        job = await manager.get(job_uuid(job_id))
        return status_of(await manager.cancel(job))

    @app.get("/healthz", response_model=Health, tags=["service"], responses={503: {"model": Health}})
    async def healthz() -> Response:
        """Liveness and whether Prefect answers."""
        ok = await manager.prefect_ok()
        body = Health(status="ok" if ok else "degraded", prefect=ok, deployment=manager.deployment,
                      authRequired=keys.required)
        return JSONResponse(body.model_dump(), status_code=200 if ok else 503)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(WEB_DIR / "index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=WEB_DIR), name="static")
    # the voice list, script review and batches live in modules of their own; `routers` adds more
    for router in (voices_api.router, review_api.router, batch_api.router, *routers):
        app.include_router(router)

    # -- middleware (the last added runs first)
    limiter = RateLimiter(settings.rate_per_minute, settings.rate_burst, settings.generate_per_minute,
                          settings.generate_burst)
    app.add_middleware(RateLimitMiddleware, limiter=limiter, keys=keys)  # type: ignore[arg-type]
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)  # type: ignore[arg-type]
    if settings.origins():
        app.add_middleware(CORSMiddleware, allow_origins=settings.origins(), allow_methods=["GET", "POST"],
                           allow_headers=["Content-Type", "X-API-Key", "Last-Event-ID", "X-Correlation-ID"],
                           expose_headers=["Location", "X-Correlation-ID", "Content-Range", "Accept-Ranges"],
                           max_age=600)
    app.add_middleware(SecurityHeadersMiddleware)  # type: ignore[arg-type]
    return app


# the brief must say something: one character that is not whitespace as Python's str.split sees it (the
# server's test; all of it lies in the BMP), not as JSON Schema's ECMA `\S` does (U+0085 differs)
_SAYS_SOMETHING = "[^" + "".join(f"\\u{c:04x}" for c in range(0x10000) if chr(c).isspace()) + "]"


def _tighten(schema: dict[str, Any], allowed: dict[str, list[str]], max_duration: float) -> dict[str, Any]:
    """Write the server's own limits into the OpenAPI schema, so that what it documents is what it accepts."""
    parts = schema.get("components", {}).get("schemas", {})
    model = r"(:[A-Za-z0-9._/@+-]{0,200})?$"
    for capability, vendors in allowed.items():
        prop = parts.get("ProviderChoices", {}).get("properties", {}).get(capability)
        for option in (prop or {}).get("anyOf", []):
            if option.get("type") == "string":
                option["pattern"] = "^(" + "|".join(re.escape(v) for v in vendors) + ")" + model
    request = parts.get("GenerateRequest", {})
    props = request.get("properties", {})
    for option in props.get("brief", {}).get("anyOf", [props.get("brief", {})]):
        option["pattern"] = _SAYS_SOMETHING
    for option in props.get("voiceId", {}).get("anyOf", []):
        if option.get("type") == "string":
            tts = "|".join(re.escape(v) for v in allowed["tts"])
            option["pattern"] = rf"^([A-Za-z0-9._@+-]{{1,100}}|({tts}):[A-Za-z0-9._/@+-]{{1,200}})$"
    for name, scale in (("durationSeconds", 1.0), ("durationMinutes", 60.0)):
        for option in props.get(name, {}).get("anyOf", []):
            if option.get("type") == "number":
                option["maximum"] = max_duration / scale
    request["not"] = {"required": ["durationMinutes", "durationSeconds"]}
    return schema


def _field(loc: Any) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    if parts[:2] == ["script", "scenes"] and len(parts) > 2 and parts[2].isdigit():
        # a script's scenes are numbered from 1 for people, as the CLI's script file errors name them
        return f"script: scene {int(parts[2]) + 1}" + "".join(f": {p}" for p in parts[3:])
    return ".".join(parts)


_PATTERN_HINTS = {
    "Last-Event-ID": "must be a whole number (the id of the last event received)",
    "voiceId": "a voice name (letters, digits and ._@+-) or vendor:voice",
    "options.language": "must be a language code such as en, de or pt-BR",
    "providers.llm": "must be a provider spec such as local or vendor:model",
    "providers.tts": "must be a provider spec such as local or espeak:en-us",
    "providers.images": "must be a provider spec such as local or vendor:model",
    "providers.renderer": "must be a provider spec such as ffmpeg",
}


def _explain(error: Any) -> str:
    """A validation error's message, in words a user can act on for pattern mismatches."""
    if error.get("type") == "string_pattern_mismatch":
        hint = _PATTERN_HINTS.get(_field(error.get("loc", ())))
        if hint:
            return hint
    return _clean(error.get("msg", ""))


def _clean(message: str) -> str:
    return str(message).removeprefix("Value error, ")


def _video_path(video: Any, videos_dir: Path, folder: Path) -> Path:
    """The job's MP4, only if it lies inside the API's videos folder (no path from a request is used)."""
    if not video:
        raise JobError(404, "no_video", "the job finished but its video is not on this server's disk")
    path = Path(str(video)).resolve()
    if path.suffix != ".mp4" or not path.is_relative_to(videos_dir.resolve()) or not path.is_file():
        if (folder / EXPIRED_MARK).exists():
            raise JobError(410, "expired", "the job's video was removed by the server's retention policy "
                           "(AURA_API_KEEP_DAYS); start the job again to render it anew")
        raise JobError(404, "no_video", "the job's video is no longer available on this server")
    return path


def app_factory() -> FastAPI:
    """For `uvicorn --factory studio.api:app_factory`."""
    return create_app()

