"""Stock APIs over plain HTTP: JSON searches and media downloads, with failures mapped into `providers.errors`.

    get_json  ── GET with the vendor's key ──► the answer's JSON, or AuthenticationError / TransientError (429
                                              with `retry_after`, 5xx, timeouts, connection) / BadRequestError
    fetch     ── cache hit? ──► the cached file, no request
                 └─ streamed into a temporary file beside the cache (at most `max_bytes`, within `timeout`),
                    checked decodable (PyAV decodes a video frame, Pillow loads a picture), then renamed into
                    the cache: a truncated, oversized or undecodable download never reaches it

The cache is content-addressed by what was asked for (vendor item and rendition URL), so a re-run
or another video using the same clip downloads nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import av
import httpx
from PIL import Image, UnidentifiedImageError

from providers.errors import AuraError, InvalidOutputError, TransientError
from providers.media.files import atomic_path
from providers.remote.vendor_errors import from_status

__all__ = ["cache_file", "check_decodable", "fetch", "get_json"]

_SUFFIX = {"clip": ".mp4", "image": ".img"}
_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def get_json(url: str, vendor: str, *, params: Mapping[str, Any], headers: Mapping[str, str] | None = None,
             timeout: float, key_variable: str, secrets: tuple[str | None, ...] = ()) -> Any:
    """GET `url` and return its JSON; HTTP and network failures become Aura errors that name `key_variable`."""
    try:
        response = httpx.get(url, params=dict(params), headers=dict(headers or {}), timeout=timeout,
                             follow_redirects=True)
    except httpx.TimeoutException as exc:
        raise TransientError(f"{vendor} did not answer in time (timeout)") from exc
    except httpx.TransportError as exc:
        raise TransientError(f"cannot reach {vendor}: connection failed") from exc
    if response.status_code != 200:
        body: Any = response.text
        with contextlib.suppress(ValueError):
            body = response.json()
        raise from_status(response.status_code, vendor, headers=dict(response.headers), body=body,
                          key_variable=key_variable, secrets=secrets)
    try:
        return response.json()
    except ValueError as exc:
        raise InvalidOutputError(f"{vendor} answered the search with a body that is not JSON") from exc


def cache_file(cache_dir: Path, key: str, url: str, kind: str) -> Path:
    """Where the download of `url` (item `key`) lives in the cache."""
    digest = hashlib.sha256(f"{key}\n{url}".encode()).hexdigest()[:24]
    return Path(cache_dir) / f"{digest}{_SUFFIX[kind]}"


def check_decodable(path: Path, kind: str, vendor: str) -> None:
    """Raise InvalidOutputError unless `path` holds a picture Pillow loads, or a video PyAV decodes a frame of."""
    if kind == "image":
        try:
            with Image.open(path) as img:
                img.load()
        except (UnidentifiedImageError, OSError, ValueError) as exc:
            raise InvalidOutputError(f"{vendor} sent a file that is not a readable picture") from exc
        return
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InvalidOutputError(f"{vendor} sent a file without a video stream")
            next(container.decode(video=0))
    except (av.FFmpegError, StopIteration, UnicodeDecodeError, ValueError) as exc:
        raise InvalidOutputError(f"{vendor} sent a file that is not a decodable video") from exc


def fetch(url: str, key: str, kind: str, cache_dir: Path, vendor: str, *, max_bytes: int, timeout: float,
          headers: Mapping[str, str] | None = None) -> Path:
    """The cached file for `url`, downloading it first if needed (streamed, capped, timed out, verified)."""
    final = cache_file(cache_dir, key, url, kind)
    with _lock_for(final):  # two scenes given the same item (too few results) download it once
        if final.is_file():
            return final
        return _download(url, final, kind, vendor, max_bytes=max_bytes, timeout=timeout, headers=headers)


def _lock_for(path: Path) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(str(path), threading.Lock())


def _download(url: str, final: Path, kind: str, vendor: str, *, max_bytes: int, timeout: float,
              headers: Mapping[str, str] | None) -> Path:
    with atomic_path(final) as tmp:
        try:
            with httpx.stream("GET", url, headers=dict(headers or {}), timeout=timeout,
                              follow_redirects=True) as response:
                if response.status_code != 200:
                    response.read()
                    raise from_status(response.status_code, vendor, headers=dict(response.headers))
                declared = int(response.headers.get("content-length") or 0)
                if declared > max_bytes:
                    raise InvalidOutputError(f"{vendor} offered a {declared / 1e6:.0f} MB file, over the "
                                             f"{max_bytes / 1e6:.0f} MB limit (AURA_FOOTAGE_MAX_MB)")
                size = 0
                deadline = time.monotonic() + timeout  # httpx's timeout is per read: a trickle never ends
                with open(tmp, "wb") as out:
                    for block in response.iter_bytes(1 << 16):
                        if time.monotonic() > deadline:
                            raise TransientError(f"downloading from {vendor} took over {timeout:.0f} s")
                        size += len(block)
                        if size > max_bytes:
                            raise InvalidOutputError(f"{vendor} sent more than {max_bytes / 1e6:.0f} MB "
                                                     f"(AURA_FOOTAGE_MAX_MB)")
                        out.write(block)
        except AuraError:
            raise
        except httpx.TimeoutException as exc:
            raise TransientError(f"downloading from {vendor} timed out") from exc
        except (httpx.TransportError, httpx.DecodingError) as exc:  # a dropped or truncated download
            raise TransientError(f"downloading from {vendor} failed: {type(exc).__name__}") from exc
        check_decodable(tmp, kind, vendor)
    return final
