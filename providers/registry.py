"""Resolve spec strings such as `local`, `openai:gpt-4o-mini` or `diffusers:PATH` to providers.

A spec is parsed once into a `ProviderSpec` (capability, vendor, model), which checks the vendor;
`resolve` returns the capability's Protocol from `providers.base` (LLM, TTS, ImageGenerator, Renderer).
Imports are lazy: a spec's module is imported only when that spec is resolved, so importing
`providers` never loads torch, diffusers or a vendor SDK.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args, overload

from providers.errors import ConfigurationError, MissingDependencyError

if TYPE_CHECKING:
    from providers.base import LLM, TTS, FootageLibrary, ImageGenerator, Renderer

__all__ = [
    "CAPABILITIES", "FOOTAGE_VENDORS", "Capability", "ProviderSpec", "is_footage", "known_vendors",
    "missing_dependency", "parse_provider", "parse_spec", "resolve", "resolve_footage",
]

Capability = Literal["llm", "tts", "images", "renderer"]

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

# pip extra -> the top-level modules it installs, looked up (not imported) to tell a missing extra early
EXTRA_MODULES: dict[str, tuple[str, ...]] = {
    "openai": ("openai",),
    "elevenlabs": ("elevenlabs",),
    "diffusers": ("diffusers", "transformers", "torch"),
    "moviepy": ("moviepy",),
    "kokoro": ("kokoro_onnx", "onnxruntime"),
    "piper": ("piper", "onnxruntime"),
}


@dataclass(frozen=True)
class ProviderSpec:
    """A parsed provider spec: which capability, which vendor (one the registry knows), which model."""

    capability: Capability
    vendor: str
    model: str = ""

    def __str__(self) -> str:
        return f"{self.vendor}:{self.model}" if self.model else self.vendor

    @property
    def extra(self) -> str:
        """The pip extra this vendor needs ('' for none)."""
        return CAPABILITIES[self.capability][self.vendor][1]


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


def parse_provider(capability: str, spec: str | ProviderSpec) -> ProviderSpec:
    """Parse and check `spec` for `capability`: an unknown capability or vendor raises ConfigurationError."""
    if isinstance(spec, ProviderSpec):
        return spec
    if capability not in CAPABILITIES:
        raise ConfigurationError(f"unknown capability {capability!r}: one of {', '.join(get_args(Capability))}")
    vendor, model = parse_spec(spec)
    if vendor not in CAPABILITIES[capability]:
        raise ConfigurationError(
            f"unknown {capability} provider {spec!r}: choose one of {', '.join(known_vendors(capability))}"
        )
    return ProviderSpec(capability, vendor, model)  # type: ignore[arg-type]  # checked against CAPABILITIES


def known_vendors(capability: str) -> list[str]:
    """The vendor names accepted for a capability."""
    return sorted(CAPABILITIES[capability])


def missing_dependency(spec: ProviderSpec) -> str | None:
    """The install command when the spec's extra is not installed, else None (looks modules up, imports none)."""
    for module in EXTRA_MODULES.get(spec.extra, ()):
        if importlib.util.find_spec(module) is None:
            return f"provider {str(spec)!r} needs {module}: pip install 'aura-video[{spec.extra}]'"
    return None


@overload
def resolve(capability: Literal["llm"], spec: str | ProviderSpec, **options: Any) -> LLM: ...
@overload
def resolve(capability: Literal["tts"], spec: str | ProviderSpec, **options: Any) -> TTS: ...
@overload
def resolve(capability: Literal["images"], spec: str | ProviderSpec, **options: Any) -> ImageGenerator: ...
@overload
def resolve(capability: Literal["renderer"], spec: str | ProviderSpec, **options: Any) -> Renderer: ...
@overload
def resolve(capability: str, spec: str | ProviderSpec, **options: Any) -> Any: ...


def resolve(capability: str, spec: str | ProviderSpec, **options: Any) -> Any:
    """Build the provider named by `spec` for `capability` ('llm', 'tts', 'images', 'renderer')."""
    parsed = parse_provider(capability, spec)
    target, extra = CAPABILITIES[capability][parsed.vendor]
    module_name, _, class_name = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f"pip install 'aura-video[{extra}]'" if extra else "reinstall aura-video"
        raise MissingDependencyError(f"provider {str(parsed)!r} needs {exc.name}: {hint}") from exc
    cls = getattr(module, class_name)
    return cls(model=parsed.model, **options)


def resolve_footage(spec: str | ProviderSpec, **options: Any) -> FootageLibrary:
    """Build the footage library (an `images` vendor that searches rather than draws) named by `spec`."""
    parsed = parse_provider("images", spec)
    if parsed.vendor not in FOOTAGE_VENDORS:
        raise ConfigurationError(
            f"{str(parsed)!r} is not a footage library: one of {', '.join(sorted(FOOTAGE_VENDORS))}")
    capability: str = "images"  # the untyped overload: an images vendor that implements FootageLibrary
    library: FootageLibrary = resolve(capability, parsed, **options)
    return library


if TYPE_CHECKING:
    # mypy checks that every registered class implements its capability's Protocol (never runs)
    from providers.images.cards import CardPainter
    from providers.images.diffusers import DiffusersImages
    from providers.images.media_folder import MediaFolder
    from providers.images.openai import OpenAIImages
    from providers.images.pexels import PexelsPhotos, PexelsVideos
    from providers.images.pixabay import PixabayPhotos, PixabayVideos
    from providers.llm.openai import OpenAIWriter
    from providers.llm.openai_compat import CompatibleWriter, OllamaWriter
    from providers.llm.template import TemplateWriter
    from providers.render.ffmpeg import FFmpegRenderer
    from providers.render.moviepy import MoviePyRenderer
    from providers.tts.elevenlabs import ElevenLabsVoice
    from providers.tts.espeak import EspeakVoice
    from providers.tts.kokoro import KokoroVoice
    from providers.tts.openai import OpenAIVoice
    from providers.tts.piper import PiperVoice

    _LLMS: tuple[type[LLM], ...] = (TemplateWriter, OpenAIWriter, OllamaWriter, CompatibleWriter)
    _VOICES: tuple[type[TTS], ...] = (EspeakVoice, KokoroVoice, PiperVoice, ElevenLabsVoice, OpenAIVoice)
    _IMAGES: tuple[type[ImageGenerator], ...] = (CardPainter, DiffusersImages, OpenAIImages)
    _FOOTAGE: tuple[type[FootageLibrary], ...] = (PexelsVideos, PexelsPhotos, PixabayVideos, PixabayPhotos, MediaFolder)
    _RENDERERS: tuple[type[Renderer], ...] = (FFmpegRenderer, MoviePyRenderer)
