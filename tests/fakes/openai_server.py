"""A fake OpenAI API (chat completions, speech, images) for tests with the real `openai` SDK.

Chat completions answer with a script shaped by the prompt ("Write exactly N scenes of about W
words"), as structured output when a JSON schema is sent, or as JSON inside prose otherwise.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections import deque
from typing import Any

from .media import mp3_tone, png, wav_tone
from .server import FakeServer, Request

__all__ = ["FakeOpenAI", "make_script"]

_WORDS = re.findall(r"\w+", "bees dance to share where flowers grow and the hive listens closely "
                    "while sunlight guides every turn of the waggle so that sisters find nectar far away")


def make_script(scenes: int, words: int, title: str = "How bees talk") -> dict[str, Any]:
    """A valid script of `scenes` scenes of `words` words of narration each."""
    def narration(i: int) -> str:
        text = " ".join(_WORDS[(i + k) % len(_WORDS)] for k in range(words))
        return text[0].upper() + text[1:] + "."

    return {"title": title, "scenes": [
        {"title": f"Part {i + 1}", "narration": narration(i),
         "visual_prompt": f"a honeybee on a flower, view {i}"}
        for i in range(scenes)
    ]}


class FakeOpenAI(FakeServer):
    """Extra modes: `no_structured` (400 when a JSON schema is asked for), `refusal`."""

    def __init__(self) -> None:
        super().__init__()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.replies: deque[Any] = deque()  # queued chat contents (str or dict), used before the default
        self.seconds_per_char = 0.03

    def reset(self) -> None:
        super().reset()
        self.replies.clear()

    def authorized(self, req: Request) -> bool:
        return req.headers.get("authorization") == f"Bearer {self.key}"

    def error_body(self, status: int, message: str) -> Any:
        kind = {429: "requests", 500: "server_error"}.get(status, "invalid_request_error")
        return {"error": {"message": message, "type": kind, "param": None, "code": None}}

    def route(self, req: Request) -> tuple[int, Any, str]:
        if req.path.endswith("/chat/completions"):
            return self.chat(req.body)
        if req.path.endswith("/audio/speech"):
            return self.speech(req.body)
        if req.path.endswith("/images/generations"):
            return self.images(req.body)
        return 404, {"error": {"message": f"no route {req.path}", "type": "invalid_request_error"}}, \
            "application/json"

    def chat(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        if self.mode == "malformed":
            return 200, b'{"id": "chatcmpl-1", "object": "chat.completion", "choices": [', "application/json"
        structured = (body.get("response_format") or {}).get("type") == "json_schema"
        if self.mode == "no_structured" and structured:
            error = {"message": "response_format json_schema is not supported by this server",
                     "type": "invalid_request_error", "param": "response_format", "code": None}
            return 400, {"error": error}, "application/json"
        prompt = "\n".join(str(m.get("content", "")) for m in body.get("messages", []))
        message: dict[str, Any] = {"role": "assistant", "content": None}
        if self.mode == "refusal":
            message["refusal"] = "I can't help with that."
        else:
            if self.replies:
                reply = self.replies.popleft()
                content = reply if isinstance(reply, str) else json.dumps(reply)
            else:
                m = re.search(r"exactly (\d+) scenes of about (\d+) words", prompt)
                scenes, words = (int(m.group(1)), int(m.group(2))) if m else (2, 8)
                content = json.dumps(make_script(scenes, words))
                if not structured:
                    content = f"Sure! Here is the script:\n```json\n{content}\n```\nEnjoy."
            message["content"] = content
        return 200, {
            "id": "chatcmpl-1", "object": "chat.completion", "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "finish_reason": "stop", "message": message, "logprobs": None}],
            "usage": {"prompt_tokens": max(1, len(prompt.split()) * 4 // 3), "completion_tokens": 321,
                      "total_tokens": 321 + max(1, len(prompt.split()) * 4 // 3)},
        }, "application/json"

    def speech(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        if self.mode == "malformed":
            return 200, b"\x00garbage, not audio" * 20, "audio/mpeg"
        seconds = round(max(0.3, len(body.get("input", "")) * self.seconds_per_char), 2)
        if body.get("response_format") == "wav":
            return 200, wav_tone(seconds), "audio/wav"
        return 200, mp3_tone(seconds), "audio/mpeg"

    def images(self, body: dict[str, Any]) -> tuple[int, Any, str]:
        if self.mode == "malformed":
            return 200, b'{"created": 1, "data": [{"b64_json": "iVBOR', "application/json"
        if self.mode == "content_policy":
            return 400, {"error": {"message": "Your request was rejected by the safety system.",
                                   "type": "image_generation_user_error", "code": "moderation_blocked"}}, \
                "application/json"
        size = body.get("size") or "1024x1024"
        w, h = (int(x) for x in size.split("x"))
        data = base64.b64encode(png(w // 16, h // 16)).decode()  # small, with the asked aspect
        usage = {"input_tokens": 10, "output_tokens": 100, "total_tokens": 110}
        answer = {"created": int(time.time()), "data": [{"b64_json": data}] * int(body.get("n") or 1),
                  "usage": usage}
        return 200, answer, "application/json"
