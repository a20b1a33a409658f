"""Cache policies that make resume safe: keyed by inputs and task source, and never stale on disk.

Prefect hashes inputs by value, so a cached result that names a file would still be returned after
the file was deleted or replaced. `OutputsPresent` closes that gap: each expected output carries a
small stamp file with a random token that is part of the cache key. The token is renewed whenever
the output is missing or is no longer the file that was made, so either way the key changes, the
cache misses and the file is made again. A task that calls `record_outputs` on its files stores
their size, modification time and SHA-256 in the stamps; a file of another size, or of another
content once its modification time changed, is then not the cached one (a policy made with
`verified=True` trusts no file without that record). Stamps sit beside their outputs, or, for outputs
in the user's folders (the finished video), in a folder of the run's own, named after the output's
full path.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects

from providers.media.files import file_digest

__all__ = ["OutputsPresent", "ProviderCode", "Stamp", "fingerprint", "record_outputs", "resumable", "stamp_path"]


def stamp_path(output: Path, folder: Path | None = None) -> Path:
    """The stamp file that holds `output`'s cache token: hidden beside it, or in `folder`."""
    if folder is None:
        return output.with_name(f".{output.name}.cachekey")
    where = hashlib.sha256(str(output.resolve()).encode()).hexdigest()[:16]
    return folder / f"{output.name}-{where}.cachekey"


@dataclass(frozen=True)
class Stamp:
    """What a stamp file holds: the cache token, and the made file's fingerprint once recorded."""

    token: str
    size: int | None = None
    mtime_ns: int | None = None
    digest: str | None = None

    @classmethod
    def read(cls, path: Path) -> Stamp | None:
        """The stamp at `path`; None when it is missing or unreadable (a new token follows)."""
        try:
            text = path.read_text().strip()
        except (FileNotFoundError, IsADirectoryError, UnicodeDecodeError):
            return None
        if not text.startswith("{"):
            return cls(token=text) if text else None  # a token-only stamp of an earlier version
        try:
            data = json.loads(text)
            return cls(token=str(data["token"]), size=data.get("size"), mtime_ns=data.get("mtime_ns"),
                       digest=data.get("digest"))
        except (ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        """Write the stamp (whole or not at all: a half-written stamp would read as unreadable)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.tmp")
        tmp.write_text(json.dumps(self.__dict__))
        os.replace(tmp, path)

    def matches(self, output: Path, *, verified: bool) -> bool:
        """Whether `output` is still the file this stamp was made for."""
        try:
            stat = output.stat()
        except FileNotFoundError:
            return False
        if self.size is None:
            return not verified  # nothing recorded: existence is all a plain stamp can check
        if stat.st_size != self.size:
            return False
        if stat.st_mtime_ns == self.mtime_ns:
            return True  # untouched since it was recorded: no need to read it again
        return file_digest(output) == self.digest  # touched or copied back: the content decides


def fingerprint(path: Path) -> tuple[int, int, str]:
    """Size, modification time (ns) and content digest of `path`."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, file_digest(path)


def record_outputs(outputs: Iterable[tuple[Path, Path]], folder: Path | None = None) -> None:
    """Record what was made: for each (final path, file now holding its content) the size and digest.

    The file holding the content may be a staged copy about to be renamed into place (a rename keeps
    size and modification time), so the record exists before the output appears.
    """
    for final, made in outputs:
        stamp = stamp_path(Path(final), folder)
        current = Stamp.read(stamp)
        size, mtime_ns, digest = fingerprint(Path(made))
        Stamp(token=current.token if current else uuid.uuid4().hex, size=size, mtime_ns=mtime_ns,
              digest=digest).write(stamp)


@dataclass
class OutputsPresent(CachePolicy):
    """Adds a token per expected output file; the token changes whenever the file is missing or not the one made."""

    outputs: Callable[[dict[str, Any]], list[Path]] = field(default=lambda inputs: [])
    stamps: Callable[[dict[str, Any]], Path] | None = None  # the stamps' folder; None: beside each output
    verified: bool = False  # trust only files whose fingerprint was recorded with `record_outputs`

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        tokens = []
        folder = self.stamps(inputs) if self.stamps is not None else None
        for output in self.outputs(inputs):
            path = stamp_path(output, folder)
            stamp = Stamp.read(path)
            if stamp is not None and stamp.matches(output, verified=self.verified):
                tokens.append(stamp.token)
                continue
            fresh = Stamp(token=uuid.uuid4().hex)
            fresh.write(path)
            tokens.append(fresh.token)
        return hash_objects(*tokens) if tokens else None


@functools.cache
def provider_code_digest(capability: str) -> str:
    """SHA-256 over the source files of one capability's providers (e.g. every file of `providers/llm`)."""
    import providers

    folder = Path(providers.__file__).parent / capability
    digest = hashlib.sha256()
    for source in sorted(folder.glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


@dataclass
class ProviderCode(CachePolicy):
    """The providers' own source: TASK_SOURCE sees only the task, so an upgraded writer would serve old results."""

    capability: str = "llm"

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        return provider_code_digest(self.capability)


def resumable(outputs: Callable[[dict[str, Any]], list[Path]] | None = None,
              stamps: Callable[[dict[str, Any]], Path] | None = None, *, verified: bool = False,
              code_of: str | None = None) -> CachePolicy:
    """Inputs + task source (no run id, so a new run resumes), plus output stamps and the providers' code when given."""
    policy = INPUTS + TASK_SOURCE
    if code_of is not None:
        policy = policy + ProviderCode(capability=code_of)
    if outputs is None:
        return policy
    return policy + OutputsPresent(outputs=outputs, stamps=stamps, verified=verified)
