"""GET /api/voices: the voices each installed engine can speak, for the web page's voice picker."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader
from pydantic import BaseModel

from studio.security import ApiKeys

__all__ = ["Voice", "VoiceList", "router"]

_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="Required when keys are configured.")


class Voice(BaseModel):
    """One voice: what to send as `voiceId`, its engine and language, and its file's name."""

    engine: str
    voice: str
    spec: str
    language: str
    file: str  # the file's name only: the server's folders are not the client's business


class VoiceList(BaseModel):
    """The voices of every installed engine (espeak always; Kokoro and Piper when their files are in place)."""

    voices: list[Voice]


def _require_key(request: Request, key: Annotated[str | None, Depends(_api_key)]) -> None:
    """The API's key check, from the app's settings (a router cannot reach create_app's own)."""
    settings = request.app.state.settings
    keys = ApiKeys(settings.key_list(), settings.token_secret.get_secret_value())
    if keys.required and not keys.check(key):
        raise HTTPException(401, "a valid API key is required in the X-API-Key header")


router = APIRouter(tags=["voices"])


@router.get("/api/voices", response_model=VoiceList, dependencies=[Depends(_require_key)],
            responses={401: {"description": "A valid API key is required."}})
async def voices(engine: Annotated[str | None, Query(pattern="^(espeak|kokoro|piper)$",
                                                     description="Only this engine's voices.")] = None) -> VoiceList:
    """The voices each installed engine can speak now, with their languages."""
    from providers.tts.voices import list_voices

    found = await run_in_threadpool(list_voices, engine)
    return VoiceList(voices=[Voice(engine=v.engine, voice=v.voice, spec=v.spec, language=v.language,
                                   file=v.location.rsplit("/", 1)[-1]) for v in found])
