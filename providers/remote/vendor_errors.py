"""Translate vendor SDK and HTTP failures into the error tree of `providers.errors`.

    HTTP 401, 403                  -> AuthenticationError   (names the variable that holds the key)
    HTTP 400, 404, 409, 413, 422   -> BadRequestError, or ContentRejectedError for a policy refusal
    HTTP 408, 429                  -> TransientError, with `retry_after` from Retry-After(-Ms)
    HTTP 5xx, timeouts, connection -> TransientError
    a timeout of one's own server  -> ConfigurationError     (names the setting to raise; see `timed_out`)
    a 2xx answer that is unusable  -> InvalidOutputError

Messages carry the vendor's short explanation with anything that looks like a key removed; they
never carry request headers, and a 401's body is never echoed (vendors quote part of the key);
`cause` keeps the SDK's own exception out of the chain (and so out of tracebacks, logs and stored
results): a scrubbed `VendorResponse` with its text stands in for it, and nothing after a 401/403.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from typing import Any

from providers.errors import (
    AuraError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ContentRejectedError,
    InvalidOutputError,
    TransientError,
)
from providers.remote.redaction import scrub

__all__ = ["VendorResponse", "cause", "from_elevenlabs", "from_openai", "from_status", "redact", "retry_after",
           "timed_out"]

_POLICY = ("content_policy", "moderation", "safety", "policy_violation")
_MAX_DETAIL = 300


def redact(text: str, *secrets: str | None) -> str:
    """Vendor text with the given secrets, every registered one and anything shaped like an API key masked."""
    return scrub(text, *secrets, bare=True)


class VendorResponse(Exception):  # noqa: N818 - it is what the vendor said, not an error of ours
    """The vendor SDK's exception as text, scrubbed: chained under Aura's errors instead of the SDK's own.

    The SDK's exception carries the response body and the request, either of which may quote the key;
    its scrubbed text keeps what helps a reader (type, status, the vendor's words) out of harm's way.
    """

    @classmethod
    def of(cls, exc: BaseException, *secrets: str | None) -> VendorResponse:
        """The scrubbed stand-in for `exc`."""
        return cls(redact(f"{type(exc).__module__}.{type(exc).__name__}: {exc}", *secrets))


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds to wait from `Retry-After-Ms` or `Retry-After` (seconds or an HTTP date), if given."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        if "retry-after-ms" in lower:
            return max(0.0, float(lower["retry-after-ms"]) / 1000)
        value = lower.get("retry-after")
        if value is None:
            return None
        if re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
            return max(0.0, float(value))
        parsed = email.utils.parsedate_to_datetime(value)
        return max(0.0, parsed.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _detail(body: Any) -> str:
    """The vendor's own short explanation from an error body (OpenAI and ElevenLabs shapes)."""
    if isinstance(body, Mapping):
        for key in ("error", "detail"):
            inner = body.get(key)
            if isinstance(inner, Mapping):
                return str(inner.get("message") or inner.get("status") or inner.get("code") or "")
            if isinstance(inner, str):
                return inner
        return str(body.get("message", ""))
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return str(body or "")


def _code(body: Any) -> str:
    if isinstance(body, Mapping):
        for key in ("error", "detail"):
            inner = body.get(key)
            if isinstance(inner, Mapping):
                return " ".join(str(inner.get(k) or "") for k in ("code", "type", "status")).lower()
    return ""


def cause(error: AuraError, exc: BaseException, *secrets: str | None) -> BaseException | None:
    """What to chain `error` to: the vendor's exception as scrubbed text; nothing after a refused key."""
    return None if isinstance(error, AuthenticationError) else VendorResponse.of(exc, *secrets)


def from_status(status: int, vendor: str, *, headers: Mapping[str, str] | None = None, body: Any = None,
                key_variable: str = "", secrets: tuple[str | None, ...] = ()) -> AuraError:
    """The Aura error for an HTTP `status` answered by `vendor`."""
    if status in (401, 403):
        hint = f": check {key_variable}" if key_variable else ""
        return AuthenticationError(f"{vendor} refused the credentials (HTTP {status}){hint}")
    detail = redact(" ".join(_detail(body).split())[:_MAX_DETAIL], *secrets)
    suffix = f": {detail}" if detail else ""
    if status in (408, 429):
        wait = retry_after(headers)
        later = f"; retry after {wait:.0f} s" if wait is not None else ""
        what = "rate limit or quota" if status == 429 else "request timeout"
        return TransientError(f"{vendor} {what} (HTTP {status}){later}{suffix}", retry_after=wait)
    if status >= 500:
        wait = retry_after(headers)
        return TransientError(f"{vendor} server error (HTTP {status}){suffix}", retry_after=wait)
    if 200 <= status < 300:
        return InvalidOutputError(f"{vendor} answered with an unusable body (HTTP {status}){suffix}")
    if any(word in _code(body) or word in detail.lower() for word in _POLICY):
        return ContentRejectedError(f"{vendor} refused the content (HTTP {status}){suffix}")
    return BadRequestError(f"{vendor} rejected the request (HTTP {status}){suffix}")


def timed_out(vendor: str, seconds: float | None = None, remedy: str = "", *, local: bool = False) -> AuraError:
    """The error for a vendor that did not answer within `seconds`; `remedy` says which setting to raise.

    A hosted API's timeout is transient (retried). A server of one's own that did not answer is still
    busy with the request: a retry would queue behind it and wait as long again, so it is a
    configuration error (not retried; fallbacks still apply) that names the setting to raise.
    """
    within = f"within {seconds:g} s" if seconds else "in time"
    message = f"{vendor} did not answer {within} (timeout)" + (f": {remedy}" if remedy else "")
    return ConfigurationError(message) if local else TransientError(message)


def from_openai(exc: Exception, *, vendor: str = "OpenAI", key_variable: str = "OPENAI_API_KEY",
                secrets: tuple[str | None, ...] = (), timeout: float | None = None, remedy: str = "",
                local: bool = False) -> AuraError:
    """Translate an exception raised by the `openai` SDK (`timeout`, `remedy`, `local`: see `timed_out`)."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return timed_out(vendor, timeout, remedy, local=local)
    if isinstance(exc, openai.APIConnectionError):
        return TransientError(f"cannot reach {vendor}: connection failed")
    if isinstance(exc, openai.APIStatusError):
        return from_status(exc.status_code, vendor, headers=dict(exc.response.headers), body=exc.body,
                           key_variable=key_variable, secrets=secrets)
    if isinstance(exc, openai.APIResponseValidationError):
        return InvalidOutputError(f"{vendor} answered with an unexpected body")
    if isinstance(exc, openai.ContentFilterFinishReasonError):
        return ContentRejectedError(f"{vendor} stopped the answer with its content filter")
    if isinstance(exc, openai.LengthFinishReasonError):
        return InvalidOutputError(f"{vendor}'s answer was cut off at the token limit")
    return InvalidOutputError(f"{vendor} failed: {type(exc).__name__}")


def from_elevenlabs(exc: Exception, *, vendor: str = "ElevenLabs", key_variable: str = "ELEVENLABS_API_KEY",
                    secrets: tuple[str | None, ...] = ()) -> AuraError:
    """Translate an exception raised by the `elevenlabs` SDK (which uses httpx)."""
    import httpx
    from elevenlabs.core import ApiError, ParsingError

    if isinstance(exc, httpx.TimeoutException):
        return TransientError(f"{vendor} did not answer in time (timeout)")
    if isinstance(exc, httpx.TransportError):
        return TransientError(f"cannot reach {vendor}: connection failed")
    if isinstance(exc, ParsingError):
        return InvalidOutputError(f"{vendor} answered with an unexpected body")
    if isinstance(exc, ApiError):
        return from_status(exc.status_code or 0, vendor, headers=exc.headers, body=exc.body,
                           key_variable=key_variable, secrets=secrets)
    return InvalidOutputError(f"{vendor} failed: {type(exc).__name__}")
