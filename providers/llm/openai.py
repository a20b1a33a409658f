"""LLM provider `openai:<model>`: a script from chat completions with structured outputs.

The script's JSON schema (no defaults, every field required) goes to the model as a strict
`json_schema` response format. Servers that speak the OpenAI protocol without structured outputs
(older Ollama, LM Studio, vLLM without guided decoding) get the schema in the prompt instead, and
the JSON is taken out of the text, with one repair attempt when it does not parse. With
AURA_LLM_STRUCTURED unset, a 400/422 answer to a structured request switches to that mode
(remembered per base URL for the life of the process).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

import openai

from providers.base import ScriptRequest, ScriptResponse
from providers.errors import BadRequestError, ContentRejectedError, InvalidOutputError
from providers.remote.secrets import get_secret
from providers.remote.vendor_errors import cause, from_openai
from providers.settings import get_settings

__all__ = ["OpenAIWriter", "extract_json"]

log = logging.getLogger(__name__)

DEFAULT_MODEL = "gpt-4o-mini"
_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_unstructured: set[str] = set()  # base URLs known to refuse structured outputs
_unstructured_lock = threading.Lock()


def extract_json(text: str) -> dict[str, Any]:
    """The JSON object in a model's text answer: bare, in a code fence, or inside prose."""
    candidates = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    error = "no JSON object found"
    for candidate in candidates:
        start, end = candidate.find("{"), candidate.rfind("}")
        if start < 0 or end <= start:
            continue
        try:
            data = json.loads(candidate[start:end + 1])
        except json.JSONDecodeError as exc:
            error = f"{exc.msg} at character {exc.pos}"
            continue
        if isinstance(data, dict):
            return data
        error = "the JSON is not an object"
    raise ValueError(error)


class OpenAIWriter:
    """LLM provider `openai:<model>` (and, through `openai_compat`, any OpenAI-compatible server)."""

    def __init__(self, model: str = "", *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float | None = None, structured: bool | None = None, vendor: str = "OpenAI",
                 key_variable: str = "OPENAI_API_KEY", name: str = "openai",
                 time_limit: tuple[float, str] | None = None, **_: Any) -> None:
        """`time_limit`: (seconds, what to change) when the caller allows less than the timeout setting."""
        settings = get_settings()
        self.model = model or DEFAULT_MODEL
        self.vendor = vendor
        self.name = name
        self.key_variable = key_variable
        self.base_url = base_url or settings.openai_base_url
        hosted = self.base_url is None or "api.openai.com" in self.base_url
        if api_key is None and (hosted or settings.openai_api_key is not None):
            api_key = get_secret(settings.openai_api_key, "OPENAI_API_KEY", "openai-api-key",
                                 "the OpenAI API key")
        self._key = api_key or "not-needed"  # local servers behind OPENAI_BASE_URL usually take any key
        self.structured = settings.llm_structured if structured is None else structured
        self.max_tokens = settings.llm_max_tokens
        # a hosted API answers in seconds or is in trouble (retried); a server of one's own (Ollama, vLLM,
        # LM Studio) may be slow, and one that does not answer is still busy (not retried: see timed_out)
        self.local = not hosted
        setting = "AURA_LLM_TIMEOUT" if hosted else "AURA_LOCAL_LLM_TIMEOUT"
        self.timeout = timeout or (settings.llm_timeout if hosted else settings.local_llm_timeout)
        self.remedy = f"raise {setting} (now {self.timeout:g} s) if it needs longer"
        if time_limit is not None and time_limit[0] < self.timeout:
            self.timeout, self.remedy = time_limit
        self.who = vendor if hosted else f"{vendor} at {self.base_url}"
        self.client = openai.OpenAI(api_key=self._key, base_url=self.base_url, timeout=self.timeout,
                                    max_retries=settings.vendor_max_retries)

    def write_script(self, request: ScriptRequest) -> ScriptResponse:
        """Ask for the script; structured output first, JSON in text where the server has none."""
        usage = [0, 0]
        if self._use_structured():
            try:
                text = self._complete(self._messages(request, schema_in_prompt=False), usage, request)
            except BadRequestError:
                if self.structured is not None:
                    raise
                log.warning("%s refused structured output; asking for JSON in the text instead", self.vendor)
                with _unstructured_lock:
                    _unstructured.add(self._endpoint)
            else:
                return self._parse(request, self._messages(request, schema_in_prompt=False), text, usage)
        messages = self._messages(request, schema_in_prompt=True)
        text = self._complete(messages, usage, None)
        return self._parse(request, messages, text, usage)

    @property
    def _endpoint(self) -> str:
        return self.base_url or "openai"

    def _use_structured(self) -> bool:
        if self.structured is not None:
            return self.structured
        with _unstructured_lock:
            return self._endpoint not in _unstructured

    def _messages(self, request: ScriptRequest, *, schema_in_prompt: bool) -> list[dict[str, str]]:
        system = request.system
        if schema_in_prompt:
            system += (
                "\n\nAnswer with one JSON object only: no prose, no code fences, no comments. "
                f"It must match this JSON schema:\n{json.dumps(request.json_schema)}"
            )
        return [{"role": "system", "content": system}, {"role": "user", "content": request.user}]

    def _parse(self, request: ScriptRequest, messages: list[dict[str, str]], text: str,
               usage: list[int]) -> ScriptResponse:
        """The JSON object in `text`, after at most one repair round trip."""
        try:
            data = extract_json(text)
        except ValueError as exc:
            log.warning("%s's script is not valid JSON (%s); asking once for a repair", self.vendor, exc)
            repair = [
                *messages,
                {"role": "assistant", "content": text},
                {"role": "user", "content": f"That was not a valid JSON object ({exc}). Reply again with "
                                            "only the corrected JSON object that matches the schema."},
            ]
            fixed = self._complete(repair, usage, request if self._use_structured() else None)
            try:
                data = extract_json(fixed)
            except ValueError as again:
                raise InvalidOutputError(f"{self.vendor} did not return a JSON script, even after a repair "
                                         f"request: {again}") from again
        log.info("%s %s used %d prompt and %d completion tokens", self.vendor, self.model, *usage)
        return ScriptResponse(data=data, prompt_tokens=usage[0], completion_tokens=usage[1],
                              provider=f"{self.name}:{self.model}")

    def _complete(self, messages: list[dict[str, str]], usage: list[int],
                  structured: ScriptRequest | None) -> str:
        """One chat completion; the answer's text, with its token usage added to `usage`."""
        options: dict[str, Any] = {}
        if structured is not None:
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "script", "schema": structured.json_schema, "strict": True},
            }
        if self.max_tokens:
            options["max_completion_tokens" if self.base_url is None else "max_tokens"] = self.max_tokens
        try:
            response = self.client.chat.completions.create(
                model=self.model, messages=messages, **options  # type: ignore[arg-type]
            )
        except openai.OpenAIError as exc:
            who = self.who if isinstance(exc, openai.APITimeoutError) else self.vendor
            error = from_openai(exc, vendor=who, key_variable=self.key_variable, secrets=(self._key,),
                                timeout=self.timeout, remedy=self.remedy, local=self.local)
            raise error from cause(error, exc, self._key)
        except ValueError as exc:  # the body was not JSON
            raise InvalidOutputError(f"{self.vendor} answered with a body that is not JSON") from exc
        choices = getattr(response, "choices", None)
        if not isinstance(choices, list) or not choices or getattr(choices[0], "message", None) is None:
            raise InvalidOutputError(f"{self.vendor} answered without a message")
        counted = getattr(response, "usage", None)
        usage[0] += int(getattr(counted, "prompt_tokens", 0) or 0)
        usage[1] += int(getattr(counted, "completion_tokens", 0) or 0)
        choice = choices[0]
        refusal = getattr(choice.message, "refusal", None)
        if refusal:
            raise ContentRejectedError(f"{self.vendor} refused to write the script: {refusal[:200]}")
        if choice.finish_reason == "content_filter":
            raise ContentRejectedError(f"{self.vendor} stopped the script with its content filter")
        if choice.finish_reason == "length":
            raise InvalidOutputError(f"{self.vendor}'s script was cut off at the token limit: raise "
                                     "AURA_LLM_MAX_TOKENS or ask for a shorter video")
        content = choice.message.content
        if not isinstance(content, str) or not content.strip():
            raise InvalidOutputError(f"{self.vendor} answered with an empty message")
        return content
