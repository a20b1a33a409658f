"""Fixtures of the deployment tests: real Prefect stacks, shut down when their module is done."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from prefect_stack import PrefectStack


@pytest.fixture(scope="module")
def stack_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Build stacks that are shut down (worker before server) when the module is done."""
    stacks: list[PrefectStack] = []

    def make(name: str, database_url: str | None = None) -> PrefectStack:
        stack = PrefectStack(tmp_path_factory.mktemp(name), database_url)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()
