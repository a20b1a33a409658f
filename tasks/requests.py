"""One vocabulary at the front: a request (CLI options, an API body, a briefs file) becomes Brief, RenderSpec
and Providers here, and its errors are told in the caller's own field names.

For every front door:
- `build_request(brief, render, providers, names=..., out=..., mkdir=..., budget=...) -> VideoRequest`:
  field dicts (None = the default) → validated values; provider specs parsed once into `ProviderSpec`s
  (unknown vendor refused); `out` checked. Raises `RequestError` (`.field` in the caller's words, `.message`).
- `request_from_json(body, names=JSON_NAMES) -> VideoRequest`: the same for a JSON object shaped like the flow's
  parameters: {"brief": {...} or "a topic", "render": {...}, "providers": {...}, "out": "", "budget": null}.
- `request_from_api(body, defaults=..., allowed=..., max_duration=...) -> VideoRequest`: the same for a
  POST /api/videos/generate body (`API_NAMES`), with the server's vendor policy and length limit, checked ready.
- `check_ready(request, names=..., allow_paths=False)`: everything knowable before a run, in milliseconds and
  without Prefect: extras installed, keys set, voice known, free disk for this job (RequestError; CLI exit 2,
  API 4xx). `allow_paths` only for the CLI (a Piper voice file named by the machine's own user).
- `explain(exc, names) -> RequestError`: a pydantic ValidationError in the caller's field names.
- `CLI_NAMES`, `JSON_NAMES`: field name maps (model field → what the caller typed); pass your own for an API body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from providers.errors import ConfigurationError
from providers.registry import ProviderSpec, parse_provider
from providers.settings import Settings, get_settings
from tasks.preflight import (
    BriefError,
    check_free_space,
    check_home,
    check_output_folder,
    check_provider,
    check_voice,
)
from tasks.schemas import Brief, Providers, RenderSpec

__all__ = [
    "API_NAMES", "CLI_NAMES", "JSON_NAMES", "RequestError", "VideoRequest", "allowed_vendors", "build_request",
    "check_ready", "explain", "request_from_api", "request_from_json",
]

CAPABILITIES = ("llm", "tts", "images", "renderer")

# model field -> the CLI's name for it
CLI_NAMES: dict[str, str] = {
    "topic": "TOPIC", "duration": "--duration", "aspect": "--aspect", "audience": "--audience", "goal": "--goal",
    "tone": "--tone", "language": "--language", "pacing": "--pacing", "density": "--density",
    "visual_style": "--style", "references": "--reference", "resolution": "--resolution", "fps": "--fps",
    "quality": "--quality", "captions": "--captions", "motion": "--motion", "preset": "--preset",
    "music": "--music", "caption_style": "--caption-style", "llm": "--llm", "tts": "--voice",
    "images": "--images", "renderer": "--renderer", "out": "--out", "budget": "--budget",
}

# model field -> its place in a JSON body shaped like the flow's parameters
JSON_NAMES: dict[str, str] = {
    **{name: f"brief.{name}" for name in Brief.model_fields},
    **{name: f"render.{name}" for name in RenderSpec.model_fields},
    **{name: f"providers.{name}" for name in Providers.model_fields},
    "out": "out", "budget": "budget",
}


# model field -> its place in a POST /api/videos/generate body
API_NAMES: dict[str, str] = {
    "topic": "brief", "duration": "durationMinutes", "visual_style": "style",
    **{name: f"options.{name}" for name in (
        "audience", "goal", "tone", "language", "pacing", "density", "aspect", "resolution", "fps", "quality",
        "captions", "motion")},
    **{name: f"providers.{name}" for name in CAPABILITIES},
}


class RequestError(ValueError):
    """A request that cannot run; `field` is the caller's name for what to fix, `code` the kind of refusal."""

    def __init__(self, field: str, message: str, code: str = "invalid_request") -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.code = code


@dataclass(frozen=True)
class VideoRequest:
    """A validated request: the flow's parameters plus the parsed provider specs."""

    brief: Brief
    render: RenderSpec
    providers: Providers
    specs: Mapping[str, ProviderSpec] = field(default_factory=dict)
    out: Path | None = None
    budget: float | None = None

    def flow_parameters(self) -> dict[str, Any]:
        """The keyword arguments of `flows.make_video.make_video` (or a deployment run's parameters)."""
        return {"brief": self.brief, "render": self.render, "providers": self.providers,
                "out": str(self.out) if self.out else "", "budget": self.budget}


def explain(exc: ValidationError, names: Mapping[str, str]) -> RequestError:
    """The first validation error, named as the caller named the field."""
    first = exc.errors()[0]
    loc = [str(part) for part in first["loc"]]
    key = loc[0] if loc else "input"
    where = names.get(key, key)
    value = first.get("input")
    text = repr(value)
    text = text if len(text) <= 80 else f"{text[:60]}… ({len(str(value))} characters)"  # one short line, whatever came
    shown = f" (got {text})" if value is not None and not isinstance(value, (dict, list, tuple)) else ""
    message = str(first["msg"]).removeprefix("Value error, ")
    if key == "topic" and first["type"] in ("string_too_short", "value_error"):
        message, shown = "the topic is empty: say what the video is about", ""
    return RequestError(where, f"{message}{shown}")


def _given(values: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (values or {}).items() if v is not None}


def build_request(
    brief: Mapping[str, Any],
    render: Mapping[str, Any] | None = None,
    providers: Mapping[str, Any] | None = None,
    *,
    names: Mapping[str, str] = CLI_NAMES,
    out: str | Path | None = None,
    mkdir: bool = True,
    budget: float | None = None,
    settings: Settings | None = None,
) -> VideoRequest:
    """Validate one request's fields (None: the default; providers default to the settings') or raise RequestError.

    `out` must end in .mp4 in a writable place; its folder must exist unless `mkdir`.
    """
    settings = settings or get_settings()
    brief_fields, render_fields = _given(brief), _given(render)
    try:
        spec = RenderSpec(**render_fields)
        chosen = spec.chosen_preset()
        if chosen is not None:  # the preset's frame decides the shape the brief is written for
            brief_fields["aspect"] = chosen.aspect
        made = Brief(**brief_fields)
    except ValidationError as exc:
        raise explain(exc, names) from None
    wanted = {"llm": settings.llm, "tts": settings.tts, "images": settings.images, "renderer": settings.renderer}
    wanted |= _given(providers)
    specs: dict[str, ProviderSpec] = {}
    for capability in CAPABILITIES:
        try:
            specs[capability] = parse_provider(capability, str(wanted[capability]))
        except ConfigurationError as exc:
            raise RequestError(names.get(capability, capability), str(exc)) from None
    try:
        chosen_providers = Providers(**{c: str(s) for c, s in specs.items()})
    except ValidationError as exc:
        raise explain(exc, names) from None
    target = None
    if out is not None and str(out) != "":
        try:
            target = check_output_folder(out, create=mkdir)
        except BriefError as exc:
            raise RequestError(names.get("out", "out"), str(exc)) from None
    if budget is not None and budget < 0:
        raise RequestError(names.get("budget", "budget"), f"must be 0 or more (got {budget!r})")
    return VideoRequest(made, spec, chosen_providers, specs, target, budget)


def request_from_json(body: Mapping[str, Any], names: Mapping[str, str] = JSON_NAMES,
                      settings: Settings | None = None) -> VideoRequest:
    """A request from a JSON object shaped like the flow's parameters (a briefs-file entry, a deployment run)."""
    unknown = sorted(set(body) - {"brief", "render", "providers", "out", "budget"})
    if unknown:
        raise RequestError(unknown[0], "not a field: use brief, render, providers, out or budget")
    brief = body.get("brief")
    if isinstance(brief, str):
        brief = {"topic": brief}
    for part, value in (("brief", brief), ("render", body.get("render")), ("providers", body.get("providers"))):
        if value is not None and not isinstance(value, Mapping):
            raise RequestError(part, "must be an object")
    if not brief:
        raise RequestError(names.get("topic", "brief.topic"), "the topic is empty: say what the video is about")
    return build_request(brief, body.get("render"), body.get("providers"), names=names, out=body.get("out"),
                         mkdir=True, budget=body.get("budget"), settings=settings)


def check_ready(request: VideoRequest, names: Mapping[str, str] = CLI_NAMES, settings: Settings | None = None,
                allow_paths: bool = False) -> None:
    """Refuse what would fail later anyway: a missing extra or key, an unknown voice, too little disk.

    `allow_paths`: a local voice may be a file named explicitly (the CLI's user owns the machine; never the API).
    """
    settings = settings or get_settings()
    try:
        check_home(settings.home)
    except BriefError as exc:
        raise RequestError("AURA_HOME", str(exc)) from None
    for capability, spec in request.specs.items():
        try:
            check_provider(spec, settings, allow_paths)
        except BriefError as exc:
            raise RequestError(names.get(capability, capability), str(exc)) from None
    tts = request.specs.get("tts")
    if tts is not None and tts.vendor in ("espeak", "local") and not tts.model:
        try:  # no voice named: the brief's language picks espeak's voice, so it must be one espeak speaks
            check_voice(tts, language=request.brief.language)
        except BriefError as exc:
            raise RequestError(names.get("language", "language"), str(exc)) from None
    try:
        check_free_space(request.brief, request.render, settings.runs_dir, request.out)
    except BriefError as exc:
        raise RequestError(names.get("out", "out") if request.out else "AURA_HOME", str(exc)) from None


def allowed_vendors(configured: str, defaults: Mapping[str, str]) -> dict[str, list[str]]:
    """Per capability, the provider vendors a request may name: configured ones that exist, plus the defaults."""
    from providers.registry import CAPABILITIES as VENDORS

    wanted = {v.strip().lower() for v in configured.split(",") if v.strip()}
    return {capability: sorted({v for v in vendors if v in wanted} | {defaults[capability].partition(":")[0].lower()})
            for capability, vendors in VENDORS.items()}


def request_from_api(body: Mapping[str, Any], *, defaults: Mapping[str, str], allowed: Mapping[str, list[str]],
                     max_duration: float, settings: Settings | None = None) -> VideoRequest:
    """A checked request from a POST /api/videos/generate body (already schema-valid), under the server's policy.

    `defaults`: the server's provider specs; `allowed`: the vendors a request may name (`allowed_vendors`).
    Raises RequestError in the body's field names; `code` "provider_not_allowed", "media_folder_not_allowed",
    "storage" (the server's disk, not the request) or "invalid_request".
    """
    from providers.images.media_folder import media_folder_allowed

    settings = settings or get_settings()
    options = body.get("options") or {}
    seconds, minutes = body.get("durationSeconds"), body.get("durationMinutes")
    duration = seconds if seconds is not None else (minutes if minutes is not None else 1.0) * 60
    if duration > max_duration:
        raise RequestError("durationSeconds" if seconds is not None else "durationMinutes",
                           f"this server makes videos of at most {max_duration:g} seconds")
    brief = {"topic": body.get("brief"), "duration": round(duration, 3), "visual_style": body.get("style"),
             **{name: options.get(name) for name in ("audience", "goal", "tone", "language", "pacing", "density",
                                                      "aspect")}}
    render = {name: options.get(name) for name in ("resolution", "fps", "quality", "captions", "motion")}
    chosen = dict(defaults) | {k: v for k, v in (body.get("providers") or {}).items() if v}
    voice = body.get("voiceId")
    if voice:  # a bare voice is one of the server's own engine
        chosen["tts"] = voice if ":" in voice else f"{defaults['tts'].partition(':')[0]}:{voice}"
    names = {**API_NAMES, **({"tts": "voiceId"} if voice else {})}
    for capability, spec in chosen.items():
        vendor = spec.partition(":")[0].lower()
        if vendor not in allowed[capability]:
            raise RequestError(names[capability], f"provider {vendor!r} is not allowed on this server "
                               f"(allowed: {', '.join(allowed[capability])})", "provider_not_allowed")
        if capability == "images" and vendor == "media" and not media_folder_allowed(
                spec.partition(":")[2], settings.media_dirs):
            raise RequestError(names[capability], "that media folder is not one this server reads from (the "
                               "operator lists them in AURA_MEDIA_DIRS)", "media_folder_not_allowed")
    made = build_request(brief, render, chosen, names=names, settings=settings)
    try:
        check_ready(made, names=names, settings=settings)
    except RequestError as exc:
        if exc.field == "AURA_HOME":
            raise RequestError(exc.field, exc.message, "storage") from None
        raise
    return made
