"""Aura's settings, read in one place: environment variables prefixed `AURA_`, or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.errors import ConfigurationError

__all__ = ["Settings", "get_settings", "require"]


class Settings(BaseSettings):
    """Typed settings; every field can be set as `AURA_<NAME>` or in `.env`."""

    model_config = SettingsConfigDict(env_prefix="AURA_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("~/.aura"), description="Run folders and media live here.")
    llm: str = Field(default="local", description="Default script writer spec, e.g. openai:gpt-4o-mini.")
    tts: str = Field(default="local", description="Default voice spec, e.g. elevenlabs:eleven_multilingual_v2.")
    images: str = Field(default="local", description="Default image spec, e.g. diffusers:stabilityai/sdxl-turbo.")
    renderer: str = Field(default="ffmpeg", description="Segment renderer spec: ffmpeg or moviepy.")
    max_workers: int = Field(default=4, ge=1, le=64, description="Threads for per-scene work.")
    ffmpeg_timeout: float = Field(default=600.0, gt=0, description="Seconds before one ffmpeg call is killed.")
    min_free_disk_gb: float = Field(default=1.0, ge=0, description="Free disk the output folder needs.")
    min_free_memory_mb: int = Field(default=512, ge=0, description="Available memory a run needs.")

    @property
    def runs_dir(self) -> Path:
        """Folder holding one sub-folder per job."""
        return self.home.expanduser() / "runs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call `get_settings.cache_clear()` after changing the env)."""
    return Settings()


def require(value: str | None, variable: str, what: str) -> str:
    """Return `value`, or fail with a message naming the environment variable to set."""
    if not value:
        raise ConfigurationError(f"{what} is not configured: set the environment variable {variable}")
    return value
