"""API keys: from the environment or `.env` (through settings), else from a Prefect Secret block.

Keys are read when a provider is built, never passed as flow parameters, and never put in a message:
a missing key fails with the name of the variable to set. Secret blocks are consulted only when
AURA_SECRET_BLOCKS is true, because loading a block needs a Prefect API.
"""

from __future__ import annotations

from typing import cast

from pydantic import SecretStr

from providers.errors import ConfigurationError
from providers.remote.redaction import register_secret
from providers.settings import get_settings, require

__all__ = ["get_secret", "load_block"]


def load_block(block: str) -> str | None:
    """The value of the Prefect Secret block `block`, or None when there is no such block."""
    from prefect.blocks.system import Secret

    try:
        secret = cast(Secret, Secret.load(block, _sync=True))  # type: ignore[call-arg]
    except ValueError:  # Prefect's answer for a block document that does not exist
        return None
    value = secret.get()
    return str(value) if value else None


def get_secret(value: SecretStr | None, variable: str, block: str, what: str) -> str:
    """The secret from settings, else from the Secret block `block` when AURA_SECRET_BLOCKS is on.

    `variable` is the environment variable named when nothing is found, e.g. OPENAI_API_KEY.
    """
    if value is not None and value.get_secret_value():
        return value.get_secret_value()
    if not get_settings().secret_blocks:
        return require(None, variable, what)
    import httpx

    hint = f"set the environment variable {variable} or create a Prefect Secret block named {block!r}"
    try:
        found = load_block(block)
    except (OSError, RuntimeError, httpx.HTTPError) as exc:  # no reachable Prefect API
        raise ConfigurationError(f"{what} is not configured and Prefect could not be asked: {hint}") from exc
    if not found:
        raise ConfigurationError(f"{what} is not configured: {hint}")
    register_secret(found)  # from a block, not the settings: the scrubber learns of it here
    return found
