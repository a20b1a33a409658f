"""Aura's settings, read in one place: environment variables prefixed `AURA_`, or a `.env` file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from providers.errors import ConfigurationError

__all__ = ["DEFAULT_PRICES", "Price", "Settings", "get_settings", "require"]


class Price(BaseModel):
    """What one vendor or model costs, in US dollars; fields that do not apply stay 0."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_per_1k: float = Field(default=0.0, ge=0, description="Per 1,000 prompt tokens.")
    output_per_1k: float = Field(default=0.0, ge=0, description="Per 1,000 completion tokens.")
    per_1k_chars: float = Field(default=0.0, ge=0, description="Per 1,000 characters spoken.")
    per_image: float = Field(default=0.0, ge=0, description="Per image.")


# List prices (USD) as published by the vendors in 2025; override with AURA_PRICES. The bare vendor
# entry is the fallback for that vendor's models not listed; local providers cost nothing.
DEFAULT_PRICES: dict[str, Price] = {
    "local": Price(), "espeak": Price(), "cards": Price(), "diffusers": Price(), "ollama": Price(),
    "openai-compat": Price(),
    "openai": Price(input_per_1k=0.0025, output_per_1k=0.01, per_1k_chars=0.015, per_image=0.04),
    "openai:gpt-4o-mini": Price(input_per_1k=0.00015, output_per_1k=0.0006),
    "openai:gpt-4o": Price(input_per_1k=0.0025, output_per_1k=0.01),
    "openai:gpt-4.1-mini": Price(input_per_1k=0.0004, output_per_1k=0.0016),
    "openai:gpt-4.1-nano": Price(input_per_1k=0.0001, output_per_1k=0.0004),
    "openai:gpt-4.1": Price(input_per_1k=0.002, output_per_1k=0.008),
    "openai:tts-1": Price(per_1k_chars=0.015),
    "openai:tts-1-hd": Price(per_1k_chars=0.03),
    "openai:gpt-4o-mini-tts": Price(per_1k_chars=0.012),
    "openai:dall-e-2": Price(per_image=0.02),
    "openai:dall-e-3": Price(per_image=0.08),
    "openai:gpt-image-1": Price(per_image=0.063),
    "openai:gpt-image-1-mini": Price(per_image=0.015),
    "elevenlabs": Price(per_1k_chars=0.30),
}


class Settings(BaseSettings):
    """Typed settings; every field can be set as `AURA_<NAME>` or in `.env`."""

    model_config = SettingsConfigDict(env_prefix="AURA_", env_file=".env", extra="ignore")

    home: Path = Field(default=Path("~/.aura"), description="Run folders and media live here.")
    llm: str = Field(default="local", description="Default script writer spec, e.g. openai:gpt-4o-mini.")
    tts: str = Field(default="local", description="Default voice spec, e.g. elevenlabs:eleven_multilingual_v2.")
    images: str = Field(default="local", description="Default image spec, e.g. diffusers:stabilityai/sdxl-turbo.")
    renderer: str = Field(default="ffmpeg", description="Segment renderer spec: ffmpeg or moviepy.")
    max_workers: int = Field(default=4, ge=1, le=64, description="Threads for per-scene work.")
    ffmpeg_timeout: float | None = Field(default=None, gt=0, description=(
        "Seconds before one ffmpeg call is killed (default: the run profile's, 600 s for `default`)."))
    min_free_disk_gb: float = Field(default=1.0, ge=0, description="Free disk the output folder needs.")
    min_free_memory_mb: int = Field(default=512, ge=0, description="Available memory a run needs.")

    # --- real providers (issue 3); secrets are SecretStr so that they never show in a repr or a log
    openai_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AURA_OPENAI_API_KEY", "OPENAI_API_KEY"),
        description="OpenAI API key (OPENAI_API_KEY).")
    openai_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AURA_OPENAI_BASE_URL", "OPENAI_BASE_URL"),
        description="Base URL for `openai:` specs, e.g. a vLLM or LM Studio server (OPENAI_BASE_URL).")
    llm_base_url: str | None = Field(
        default=None, description="Base URL of the server behind `openai-compat:` specs.")
    llm_api_key: SecretStr | None = Field(
        default=None, description="API key for `openai-compat:` (most need none).")
    ollama_base_url: str = Field(
        default="http://localhost:11434/v1",
        validation_alias=AliasChoices("AURA_OLLAMA_BASE_URL", "OLLAMA_BASE_URL"),
        description="Ollama's OpenAI-compatible endpoint for `ollama:` specs.")
    llm_timeout: float = Field(
        default=120.0, gt=0, description="Seconds to wait for a hosted LLM's answer (a timeout is retried).")
    local_llm_timeout: float = Field(
        default=300.0, gt=0,
        description="Seconds to wait for an LLM server of one's own (ollama, openai-compat, OPENAI_BASE_URL); "
                    "a timeout is not retried, since the server is still busy with the request.")
    llm_max_tokens: int | None = Field(
        default=None, ge=64, description="Cap on the tokens of one script answer.")
    llm_structured: bool | None = Field(
        default=None, description="Structured outputs: true, false (JSON in text), unset: try, fall back.")
    vendor_max_retries: int = Field(
        default=1, ge=0, le=10, description="Retries inside the vendor SDK (429/5xx) before a task retry.")
    reference_words: int = Field(
        default=900, ge=0, le=20000, description="Words of reference passages put into the script prompt.")
    elevenlabs_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AURA_ELEVENLABS_API_KEY", "ELEVENLABS_API_KEY"),
        description="ElevenLabs API key (ELEVENLABS_API_KEY).")
    elevenlabs_base_url: str | None = Field(
        default=None, validation_alias=AliasChoices("AURA_ELEVENLABS_BASE_URL", "ELEVENLABS_BASE_URL"),
        description="ElevenLabs API base URL, without /v1 (ELEVENLABS_BASE_URL).")
    elevenlabs_model: str = Field(default="eleven_multilingual_v2", description="ElevenLabs model id.")
    elevenlabs_voice: str = Field(
        default="21m00Tcm4TlvDq8ikWAM", description="ElevenLabs voice id used when the spec names none.")
    elevenlabs_output_format: str = Field(
        default="mp3_44100_128", pattern=r"^mp3_\d+_\d+$", description="ElevenLabs MP3 output format.")
    openai_tts_voice: str = Field(
        default="alloy", description="OpenAI TTS voice used when none is asked for.")
    tts_timeout: float = Field(default=120.0, gt=0, description="Seconds to wait for one TTS answer.")
    # --- local neural voices (issue 11)
    kokoro_dir: Path | None = Field(
        default=None,
        description="Folder with a Kokoro .onnx model and its voices-*.bin (default: <home>/models/kokoro).",
    )
    piper_voices: Path | None = Field(
        default=None, description="Folder of Piper voices, NAME.onnx + NAME.onnx.json (default: <home>/models/piper).")
    tts_threads: int | None = Field(
        default=None, ge=1, le=256, description="ONNX Runtime threads for Kokoro and Piper (default: all cores).")
    image_timeout: float = Field(default=300.0, gt=0, description="Seconds to wait for one hosted image.")
    openai_image_quality: str | None = Field(
        default=None, description="OpenAI image quality, e.g. low, medium, high, hd.")
    diffusers_model: str = Field(
        default="stabilityai/sdxl-turbo", description="Model of a bare `diffusers` spec: hub id or folder.")
    diffusers_allow_download: bool = Field(
        default=False, description="Let diffusers download missing weights (else folder or hub cache only).")
    diffusers_device: str = Field(
        default="auto", pattern=r"^(auto|cpu|mps|cuda(:\d+)?)$", description="auto, cpu, mps, cuda, cuda:N.")
    diffusers_require_gpu: bool = Field(
        default=False, description="Fail instead of running diffusion on the CPU.")
    diffusers_dtype: str = Field(
        default="auto", pattern=r"^(auto|float16|bfloat16|float32)$",
        description="auto: bf16 for FLUX and fp16 otherwise on CUDA, fp32 on the CPU.")
    diffusers_variant: str | None = Field(default=None, description="Weights variant to load, e.g. fp16.")
    diffusers_steps: int | None = Field(
        default=None, ge=1, le=200, description="Override the family's step count.")
    diffusers_guidance: float | None = Field(
        default=None, ge=0, le=30, description="Override the family's guidance scale.")
    diffusers_size: int | None = Field(
        default=None, ge=32, le=2048,
        description="Generate at about this many pixels squared (default per family), then crop.")
    diffusers_batch: bool | None = Field(
        default=None, description="Batch concurrent scene requests into one call (default: on a GPU only).")
    diffusers_max_batch: int = Field(default=4, ge=1, le=64, description="Most images in one batched call.")
    diffusers_batch_window_ms: float = Field(
        default=25.0, ge=0, le=5000, description="How long a batch waits for more requests.")
    # --- footage (issue 10): stock libraries and the user's own media
    pexels_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AURA_PEXELS_API_KEY", "PEXELS_API_KEY"),
        description="Pexels API key (PEXELS_API_KEY) for `pexels` and `pexels-photos`.")
    pexels_base_url: str = Field(
        default="https://api.pexels.com", validation_alias=AliasChoices("AURA_PEXELS_BASE_URL", "PEXELS_BASE_URL"),
        description="Pexels API base URL, without /v1 or /videos (PEXELS_BASE_URL).")
    pixabay_api_key: SecretStr | None = Field(
        default=None, validation_alias=AliasChoices("AURA_PIXABAY_API_KEY", "PIXABAY_API_KEY"),
        description="Pixabay API key (PIXABAY_API_KEY) for `pixabay` and `pixabay-photos`.")
    pixabay_base_url: str = Field(
        default="https://pixabay.com/api", validation_alias=AliasChoices("AURA_PIXABAY_BASE_URL", "PIXABAY_BASE_URL"),
        description="Pixabay API base URL, the one whose /videos/ searches videos (PIXABAY_BASE_URL).")
    footage_timeout: float = Field(default=120.0, gt=0, description="Seconds for one stock search or download.")
    footage_max_mb: float = Field(default=200.0, gt=0, description="Largest stock file downloaded, in MB.")
    media_dirs: list[Path] = Field(
        default_factory=list,
        description="Folders the API and deployments may read the user's media from (JSON list in AURA_MEDIA_DIRS); "
                    "the CLI's --media takes any folder.")
    secret_blocks: bool = Field(
        default=False, description="Also look for missing keys in Prefect Secret blocks (openai-api-key...).")
    prices: dict[str, Price] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        description="USD prices by `vendor` or `vendor:model` (JSON in AURA_PRICES); unknown specs cost 0.")
    budget: float | None = Field(
        default=None, ge=0, description="Per-run budget in USD; a run estimated above it does not start.")
    review_timeout: float = Field(
        default=3 * 24 * 3600.0, ge=1, description="Seconds a run waits in script review before it ends.")
    batch_concurrency: int = Field(
        default=2, ge=1, le=64, description="Videos of a batch rendered at once (Prefect limit aura-batch).")

    # --- resilience (issue 4)
    profile: str = Field(default="default", description="Run profile: default, debug or quick-demo.")
    fallback_llm: str = Field(
        default="", description="Comma-separated script writers tried after the first, e.g. local.")
    fallback_tts: str = Field(
        default="", description="Comma-separated voices tried after the first, e.g. openai:tts-1,local.")
    fallback_images: str = Field(
        default="", description="Comma-separated image providers tried after the first; cards last.")
    breaker_window: float = Field(default=30.0, gt=0, description="Seconds of calls a circuit breaker looks back over.")
    breaker_open_for: float = Field(default=30.0, gt=0, description="Seconds a tripped circuit breaker stays open.")
    breaker_min_calls: int = Field(default=4, ge=1, description="Calls in the window before a breaker may open.")

    def fallbacks(self, capability: str) -> list[str]:
        """The fallback specs configured for `capability` ('llm', 'tts' or 'images')."""
        raw = {"llm": self.fallback_llm, "tts": self.fallback_tts, "images": self.fallback_images}[capability]
        return [spec.strip() for spec in raw.split(",") if spec.strip()]

    @property
    def footage_dir(self) -> Path:
        """Content-addressed cache of downloaded stock footage, shared by all runs."""
        return self.home.expanduser() / "footage"

    @property
    def runs_dir(self) -> Path:
        """Folder holding one sub-folder per job."""
        return self.home.expanduser() / "runs"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (cached; call `get_settings.cache_clear()` after changing the env).

    Reading them brings the secrets into the process: each is registered with the scrubber, which is
    installed in logging, so that no log record can carry one from here on.
    """
    from providers.remote import redaction

    settings = Settings()
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            redaction.register_secret(value.get_secret_value())
    redaction.install()
    return settings


def require(value: str | None, variable: str, what: str) -> str:
    """Return `value`, or fail with a message naming the environment variable to set."""
    if not value:
        raise ConfigurationError(f"{what} is not configured: set the environment variable {variable}")
    return value
