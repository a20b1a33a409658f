"""Cache policies that make resume safe: keyed by inputs and task source, and never stale on disk.

Prefect hashes inputs by value, so a cached result that names a file would still be returned after
the file was deleted. `OutputsPresent` closes that gap: each expected output carries a small stamp
file with a random token that is part of the cache key. The token is renewed whenever the output is
missing, so a missing file always means a new key, a cache miss and a recomputed file.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prefect.cache_policies import INPUTS, TASK_SOURCE, CachePolicy
from prefect.context import TaskRunContext
from prefect.utilities.hashing import hash_objects

__all__ = ["OutputsPresent", "resumable", "stamp_path"]


def stamp_path(output: Path) -> Path:
    """The hidden stamp file that holds `output`'s cache token."""
    return output.with_name(f".{output.name}.cachekey")


@dataclass
class OutputsPresent(CachePolicy):
    """Adds a token per expected output file; the token changes whenever the file is missing."""

    outputs: Callable[[dict[str, Any]], list[Path]] = field(default=lambda inputs: [])

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        tokens = []
        for output in self.outputs(inputs):
            stamp = stamp_path(output)
            if output.is_file() and stamp.is_file():
                tokens.append(stamp.read_text().strip())
                continue
            token = uuid.uuid4().hex
            stamp.parent.mkdir(parents=True, exist_ok=True)
            stamp.write_text(token)
            tokens.append(token)
        return hash_objects(*tokens) if tokens else None


def resumable(outputs: Callable[[dict[str, Any]], list[Path]] | None = None) -> CachePolicy:
    """Inputs + task source (no run id, so a new run resumes), plus output stamps when given."""
    policy = INPUTS + TASK_SOURCE
    return policy + OutputsPresent(outputs=outputs) if outputs is not None else policy
