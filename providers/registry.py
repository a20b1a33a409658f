"""Resolve spec strings such as `local`, `openai:gpt-4o-mini` or `diffusers:PATH` to providers.

Imports are lazy: a spec's module is imported only when that spec is resolved, so importing
`providers` never loads torch, diffusers or a vendor SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

from providers.errors import ConfigurationError, MissingDependencyError

__all__ = ["CAPABILITIES", "FOOTAGE_VENDORS", "is_footage", "known_vendors", "parse_spec", "resolve"]

# capability -> vendor -> ("module:Class", pip extra needed or "")
CAPABILITIES: dict[str, dict[str, tuple[str, str]]] = {
    "llm": {
        "local": ("providers.llm.template:TemplateWriter", ""),
        "openai": ("providers.llm.openai:OpenAIWriter", "openai"),
        "ollama": ("providers.llm.openai_compat:OllamaWriter", "openai"),
        "openai-compat": ("providers.llm.openai_compat:CompatibleWriter", "openai"),
    },
    "tts": {
        "local": ("providers.tts.espeak:EspeakVoice", ""),
        "espeak": ("providers.tts.espeak:EspeakVoice", ""),
        "kokoro": ("providers.tts.kokoro:KokoroVoice", "kokoro"),
        "piper": ("providers.tts.piper:PiperVoice", "piper"),
        "elevenlabs": ("providers.tts.elevenlabs:ElevenLabsVoice", "elevenlabs"),
        "openai": ("providers.tts.openai:OpenAIVoice", "openai"),
    },
    "images": {
        "local": ("providers.images.cards:CardPainter", ""),
        "cards": ("providers.images.cards:CardPainter", ""),
        "diffusers": ("providers.images.diffusers:DiffusersImages", "diffusers"),
        "openai": ("providers.images.openai:OpenAIImages", "openai"),
        # footage libraries (FootageLibrary.search): stock clips and photos, the user's own media
        "pexels": ("providers.images.pexels:PexelsVideos", ""),
        "pexels-photos": ("providers.images.pexels:PexelsPhotos", ""),
        "pixabay": ("providers.images.pixabay:PixabayVideos", ""),
        "pixabay-photos": ("providers.images.pixabay:PixabayPhotos", ""),
        "media": ("providers.images.media_folder:MediaFolder", ""),
    },
    "renderer": {
        "ffmpeg": ("providers.render.ffmpeg:FFmpegRenderer", ""),
        "local": ("providers.render.ffmpeg:FFmpegRenderer", ""),
        "moviepy": ("providers.render.moviepy:MoviePyRenderer", "moviepy"),
    },
}


FOOTAGE_VENDORS = frozenset({"pexels", "pexels-photos", "pixabay", "pixabay-photos", "media"})


def is_footage(spec: str) -> bool:
    """True for image specs that search a footage library rather than make a picture."""
    return parse_spec(spec)[0] in FOOTAGE_VENDORS


def parse_spec(spec: str) -> tuple[str, str]:
    """Split `vendor:model` into its two parts; the model may be empty."""
    spec = spec.strip()
    if not spec:
        raise ConfigurationError("empty provider spec: use e.g. 'local' or 'openai:gpt-4o-mini'")
    vendor, _, model = spec.partition(":")
    return vendor.lower(), model


def known_vendors(capability: str) -> list[str]:
    """The vendor names accepted for a capability."""
    return sorted(CAPABILITIES[capability])


def resolve(capability: str, spec: str, **options: Any) -> Any:
    """Build the provider named by `spec` for `capability` ('llm', 'tts', 'images', 'renderer')."""
    if capability not in CAPABILITIES:
        raise ConfigurationError(f"unknown capability {capability!r}")
    vendor, model = parse_spec(spec)
    table = CAPABILITIES[capability]
    if vendor not in table:
        raise ConfigurationError(
            f"unknown {capability} provider {spec!r}: choose one of {', '.join(known_vendors(capability))}"
        )
    target, extra = table[vendor]
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'aura-video[{extra}]'" if extra else "reinstall aura-video"
        raise MissingDependencyError(f"provider {spec!r} needs {exc.name}: {hint}") from exc
    cls = getattr(module, class_name)
    return cls(model=model, **options)
