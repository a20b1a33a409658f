"""A fake ElevenLabs API: POST /v1/text-to-speech/{voice_id}[/with-timestamps], real MP3 audio."""

from __future__ import annotations

import base64
from typing import Any

from .media import mp3_tone
from .server import FakeServer, Request

__all__ = ["FakeElevenLabs"]


class FakeElevenLabs(FakeServer):
    """The SDK's base URL has no /v1; alignment spreads the characters evenly over the audio."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}"
        self.seconds_per_char = 0.03

    def authorized(self, req: Request) -> bool:
        return req.headers.get("xi-api-key") == self.key

    def error_body(self, status: int, message: str) -> Any:
        status_name = {401: "invalid_api_key", 429: "too_many_concurrent_requests", 500: "internal_error"}
        return {"detail": {"status": status_name.get(status, "error"), "message": message}}

    def route(self, req: Request) -> tuple[int, Any, str]:
        parts = req.path.strip("/").split("/")  # v1/text-to-speech/<voice>[/with-timestamps]
        if len(parts) < 3 or parts[:2] != ["v1", "text-to-speech"]:
            return 404, {"detail": {"status": "not_found", "message": "no such route"}}, "application/json"
        if parts[2] == "missing-voice":
            body = {"detail": {"status": "voice_not_found", "message": "A voice with that ID does not exist"}}
            return 404, body, "application/json"
        text = str(req.body.get("text", ""))
        seconds = round(max(0.3, len(text) * self.seconds_per_char), 2)
        audio = mp3_tone(seconds, 44100)
        if parts[-1] != "with-timestamps":
            return 200, audio, "audio/mpeg"
        if self.mode == "malformed":
            return 200, b'{"audio_base64": "SUQz', "application/json"
        step = seconds / max(1, len(text))
        align = {"characters": list(text),
                 "character_start_times_seconds": [round(i * step, 3) for i in range(len(text))],
                 "character_end_times_seconds": [round((i + 1) * step, 3) for i in range(len(text))]}
        return 200, {"audio_base64": base64.b64encode(audio).decode(), "alignment": align,
                     "normalized_alignment": align}, "application/json"
