"""Cache policies that make resume safe: keyed by inputs and task source, and never stale on disk.

Prefect hashes inputs by value, so a cached result that names a file would still be returned after
the file was deleted. `OutputsPresent` closes that gap: each expected output carries a small stamp
file with a random token that is part of the cache key. The token is renewed whenever the output is
missing, so a missing file always means a new key, a cache miss and a recomputed file. Stamps sit
beside their outputs, or, for outputs in the user's folders (the finished video), in a folder of the
run's own, named after the output's full path.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects

__all__ = ["OutputsPresent", "resumable", "stamp_path"]


def stamp_path(output: Path, folder: Path | None = None) -> Path:
    """The stamp file that holds `output`'s cache token: hidden beside it, or in `folder`."""
    if folder is None:
        return output.with_name(f".{output.name}.cachekey")
    where = hashlib.sha256(str(output.resolve()).encode()).hexdigest()[:16]
    return folder / f"{output.name}-{where}.cachekey"


@dataclass
class OutputsPresent(CachePolicy):
    """Adds a token per expected output file; the token changes whenever the file is missing."""

    outputs: Callable[[dict[str, Any]], list[Path]] = field(default=lambda inputs: [])
    stamps: Callable[[dict[str, Any]], Path] | None = None  # the stamps' folder; None: beside each output

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
            stamp = stamp_path(output, folder)
            if output.is_file() and stamp.is_file():
                tokens.append(stamp.read_text().strip())
                continue
            token = uuid.uuid4().hex
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(token)
            tokens.append(token)
        return hash_objects(*tokens) if tokens else None


def resumable(outputs: Callable[[dict[str, Any]], list[Path]] | None = None,
              stamps: Callable[[dict[str, Any]], Path] | None = None) -> CachePolicy:
    """Inputs + task source (no run id, so a new run resumes), plus output stamps when given."""
    policy = INPUTS + TASK_SOURCE
    return policy + OutputsPresent(outputs=outputs, stamps=stamps) if outputs is not None else policy
