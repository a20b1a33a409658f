"""The error tree every provider raises, so that retries and fallbacks can tell failures apart.

    AuraError
    ├── ConfigurationError        bad or missing setting (e.g. an API key): fix the configuration
    │   └── MissingDependencyError    an optional extra is not installed
    ├── TransientError            worth retrying: timeouts, connection errors, HTTP 429 and 5xx
    │   └── CircuitOpenError          a provider's breaker is open; retry after `until`
    └── PermanentError            retrying cannot help
        ├── AuthenticationError       HTTP 401/403: the key is wrong or missing
        ├── BadRequestError           HTTP 400/404/422: the request itself is wrong
        ├── ContentRejectedError      the vendor refused the content
        ├── InvalidOutputError        the provider answered, but not with something usable
        └── MediaError                ffmpeg/encoding failed or produced a bad file
"""

from __future__ import annotations

__all__ = [
    "AuraError",
    "AuthenticationError",
    "BadRequestError",
    "CircuitOpenError",
    "ConfigurationError",
    "ContentRejectedError",
    "InvalidOutputError",
    "MediaError",
    "MissingDependencyError",
    "PermanentError",
    "TransientError",
]


class AuraError(Exception):
    """Base of every error Aura raises on purpose; its message never holds a known secret."""

    def __init__(self, *args: object) -> None:
        from providers.remote.redaction import scrub

        super().__init__(*(scrub(arg) if isinstance(arg, str) else arg for arg in args))


class ConfigurationError(AuraError):
    """A setting is missing or wrong; the message names what to set."""


class MissingDependencyError(ConfigurationError):
    """An optional dependency is missing; the message names the extra to install."""


class TransientError(AuraError):
    """A failure that may go away on retry."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class CircuitOpenError(TransientError):
    """The provider's circuit breaker is open."""


class PermanentError(AuraError):
    """A failure that retrying cannot fix."""


class AuthenticationError(PermanentError):
    """The provider refused the credentials."""


class BadRequestError(PermanentError):
    """The provider refused the request as malformed."""


class ContentRejectedError(PermanentError):
    """The provider refused the content (moderation, policy)."""


class InvalidOutputError(PermanentError):
    """The provider's answer could not be used."""


class MediaError(PermanentError):
    """A media tool failed or wrote a file that does not probe as expected."""
