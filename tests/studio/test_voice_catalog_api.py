"""GET /api/voices over real HTTP: the installed voices for the web page's picker, behind the API key."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from providers.settings import get_settings
from tests.providers.voice_models import PIPER_VOICE, piper_folder


def _app(keys: str = "") -> FastAPI:
    from studio.api import ApiSettings
    from studio.voices_api import router

    app = FastAPI()
    app.state.settings = ApiSettings(keys=keys)
    app.include_router(router)
    return app


def test_lists_espeak_and_installed_piper_voices_without_server_paths(tmp_path: Path, monkeypatch) -> None:
    from tests.studio.served import running_server

    monkeypatch.setenv("AURA_PIPER_VOICES", str(piper_folder(tmp_path)))
    monkeypatch.setenv("AURA_KOKORO_DIR", str(tmp_path / "no-kokoro"))
    get_settings.cache_clear()
    try:
        with running_server(_app()) as base, httpx.Client(base_url=base, timeout=30) as http:
            voices = http.get("/api/voices").json()["voices"]
            piper_only = http.get("/api/voices", params={"engine": "piper"}).json()["voices"]
            bad = http.get("/api/voices", params={"engine": "../etc"})
    finally:
        get_settings.cache_clear()
    specs = {v["spec"] for v in voices}
    assert {"espeak:en-us", f"piper:{PIPER_VOICE}"} <= specs and not any(s.startswith("kokoro:") for s in specs)
    assert piper_only == [{"engine": "piper", "voice": PIPER_VOICE, "spec": f"piper:{PIPER_VOICE}",
                           "language": "en_US", "file": f"{PIPER_VOICE}.onnx"}]
    assert not any("/" in v["file"] for v in voices)
    assert bad.status_code == 422


def test_needs_the_key_when_keys_are_set() -> None:
    from tests.studio.served import running_server

    with running_server(_app(keys="sesame")) as base, httpx.Client(base_url=base, timeout=30) as http:
        assert http.get("/api/voices").status_code == 401
        assert http.get("/api/voices", headers={"X-API-Key": "wrong"}).status_code == 401
        assert http.get("/api/voices", headers={"X-API-Key": "sesame"}).status_code == 200


def test_the_studio_app_serves_the_route() -> None:
    from studio.api import ApiSettings, create_app

    app = create_app(ApiSettings())
    assert "get" in app.openapi()["paths"]["/api/voices"]


pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
