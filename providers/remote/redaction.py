"""Secrets never leave Aura in text: one scrubber for log records, artifacts and error messages.

Every secret the settings hold (each `SecretStr` field: API keys) and every key read from a Prefect
Secret block is registered here when it is read; `scrub` replaces those values and anything shaped
like an API key with `***`. `install` puts the scrubber into the logging record factory, so every
record of every logger (Aura's, Prefect's and its API log handler, the SDKs', uvicorn's) is
scrubbed once, when it is made, before any handler formats or ships it: its message, and the text
of an attached exception with its whole chain.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from collections.abc import Callable
from typing import Any

__all__ = ["MIN_SECRET_LENGTH", "install", "register_secret", "scrub"]

MIN_SECRET_LENGTH = 8  # shorter values are not treated as secrets: scrubbing "abc" everywhere would garble logs
MASK = "***"

# sk-..., xi-..., key_... and the like; with `bare`, also long unbroken runs of letters and digits (hex keys,
# tokens), which only vendor text is scrubbed of: in Aura's own text they are digests and ids
_KEYLIKE = re.compile(r"\b(?:sk|xi|key|pk|rk)[-_][A-Za-z0-9_\-*]{6,}")
_BARE = re.compile(r"\b[A-Za-z0-9]{32,}\b")
_BEARER = re.compile(r"(?i)\b(authorization|x-api-key|xi-api-key|api[-_]?key)(\"?\s*[:=]\s*\"?)(bearer\s+)?[^\s\"',}]+")

_secrets: set[str] = set()
_lock = threading.Lock()
_installed = False


def register_secret(value: str | None) -> None:
    """Scrub `value` from every text from now on (values shorter than MIN_SECRET_LENGTH are ignored)."""
    if value and len(value.strip()) >= MIN_SECRET_LENGTH:
        with _lock:
            _secrets.add(value.strip())


def scrub(text: str, *extra: str | None, bare: bool = False) -> str:
    """`text` with every registered secret, the `extra` ones, key-shaped words and auth headers masked."""
    with _lock:
        known = sorted(_secrets.union(s for s in extra if s), key=len, reverse=True)
    for secret in known:  # longest first: a key that contains another is masked whole
        if secret in text:
            text = text.replace(secret, MASK)
    text = _BEARER.sub(lambda m: f"{m.group(1)}{m.group(2)}{MASK}", text)
    text = _KEYLIKE.sub(MASK, text)
    return _BARE.sub(MASK, text) if bare else text


def _scrub_arg(arg: Any) -> Any:
    if isinstance(arg, str):
        return scrub(arg)
    if isinstance(arg, int | float | bool) or arg is None:
        return arg
    text = str(arg)
    cleaned = scrub(text)
    return arg if cleaned == text else cleaned  # an object whose text holds a secret is logged as its scrubbed text


def _scrub_record(record: logging.LogRecord) -> logging.LogRecord:
    # the arguments are scrubbed one by one, not merged into the message: some formatters (uvicorn's
    # access log) read them as a tuple
    if isinstance(record.msg, str):
        record.msg = scrub(record.msg)
    if isinstance(record.args, tuple):
        record.args = tuple(_scrub_arg(arg) for arg in record.args)
    elif isinstance(record.args, dict):
        record.args = {key: _scrub_arg(value) for key, value in record.args.items()}
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed record: logging reports it when a handler formats it
        message = None
    if message is not None and scrub(message) != message:  # a secret split between message and arguments
        record.msg, record.args = scrub(message), None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        # formatted here, chain included, so that no handler formats the raw exception later
        record.exc_text = scrub("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
    return record


def install() -> None:
    """Scrub every log record made in this process from now on (idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
        previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return _scrub_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
