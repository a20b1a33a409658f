"""The provider contract: one small Protocol per capability and the plain values they exchange.

Providers never import `tasks` or `flows`; the domain models in `tasks.schemas` are built from
these values. Every value here is a frozen pydantic model so that it hashes and serialises.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "LLM",
    "TTS",
    "CaptionCue",
    "Credit",
    "Footage",
    "FootageLibrary",
    "ImageGenerator",
    "ImageRequest",
    "Reference",
    "Renderer",
    "ScriptRequest",
    "ScriptResponse",
    "SegmentPlan",
    "Speech",
    "VoiceSettings",
    "WordTiming",
]


class _Value(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WordTiming(_Value):
    """One spoken word and when it is heard, in seconds from the start of its audio."""

    word: str
    start: float = Field(ge=0)
    end: float = Field(ge=0)


class Reference(_Value):
    """One passage of the user's reference material, with the title of the document it came from."""

    source: str
    text: str


class ScriptRequest(_Value):
    """What a script writer is asked for: prompts for a model, plus the brief for template writers."""

    system: str
    user: str
    json_schema: dict[str, Any]
    brief: dict[str, Any]
    scene_count: int = Field(ge=1)
    words_per_scene: int = Field(ge=1)
    seed: int = 0
    references: tuple[Reference, ...] = ()  # the passages quoted in `user`, for writers without a model


class ScriptResponse(_Value):
    """A script writer's answer: the JSON object it produced and what it cost."""

    data: dict[str, Any]
    prompt_tokens: int = 0
    completion_tokens: int = 0
    provider: str


class VoiceSettings(_Value):
    """Voice, language and speaking rate for a TTS call."""

    voice: str | None = None
    language: str = "en"
    words_per_minute: int = Field(default=150, ge=60, le=400)


class Speech(_Value):
    """A synthesized audio file with its real duration and per-word timings."""

    audio_path: Path
    duration: float = Field(gt=0)
    words: tuple[WordTiming, ...]
    timings_estimated: bool = False
    characters: int = 0


class ImageRequest(_Value):
    """One image to make: prompt, the scene's title and text (for drawn cards), size and seed."""

    prompt: str
    title: str
    text: str = ""
    width: int = Field(ge=8)
    height: int = Field(ge=8)
    seed: int = 0
    style: str = ""
    palette_key: str = ""
    queries: tuple[str, ...] = ()  # footage search terms (English), for stock and media-folder providers
    seconds: float = 0.0  # the scene's expected length, so footage libraries can prefer clips that long


class Credit(_Value):
    """Who made a piece of footage and where it came from, as stock sites ask to be credited."""

    source: str
    author: str = ""
    page_url: str = ""
    licence: str = ""


class Footage(_Value):
    """One stock or local clip or picture a footage library offers for a scene.

    `url` is where to download it (http/https), or a local file path for the user's own media.
    `width`/`height` are the chosen rendition's; `seconds` and `fps` are 0 for pictures.
    """

    key: str  # unique per library and item, e.g. "pexels-video:123": never reused in one video
    kind: str = Field(pattern=r"^(image|clip)$")
    url: str
    width: int = Field(ge=0)
    height: int = Field(ge=0)
    seconds: float = Field(default=0.0, ge=0)
    fps: float = Field(default=0.0, ge=0)
    credit: Credit
    why: str = ""  # what matched (the user's media folder says which words did)


class CaptionCue(_Value):
    """One caption shown from `start` to `end` (seconds on the segment's own clock)."""

    start: float = Field(ge=0)
    end: float = Field(ge=0)
    text: str
    words: tuple[WordTiming, ...] = ()


class SegmentPlan(_Value):
    """One scene's video segment, everything a renderer needs, in absolute pixels and seconds.

    The segment starts with a crossfade from `previous_image` (continuing its motion) when
    `fade_in` > 0, so that segments joined without re-encoding still cross-fade.
    """

    image: Path
    duration: float = Field(gt=0)
    width: int = Field(ge=16)
    height: int = Field(ge=16)
    fps: int = Field(ge=1, le=120)
    motion: bool = True
    zoom_from: float = 1.0
    zoom_to: float = 1.12
    previous_image: Path | None = None
    previous_zoom: tuple[float, float] = (1.0, 1.0)  # the previous image's zoom across the fade
    fade_in: float = Field(default=0.0, ge=0)
    # footage: when `clip_seconds` > 0, `image` is a video clip played from `clip_start` (looped when the
    # segment is longer); the same for the previous scene's visual during the crossfade
    clip_seconds: float = Field(default=0.0, ge=0)
    clip_start: float = Field(default=0.0, ge=0)
    previous_clip_seconds: float = Field(default=0.0, ge=0)
    previous_clip_start: float = Field(default=0.0, ge=0)
    captions: tuple[CaptionCue, ...] = ()
    caption_style: str = "phrase"
    font_size: int = 40
    codec: str = "libx264"
    crf: int = 23
    preset: str = "veryfast"


@runtime_checkable
class LLM(Protocol):
    """Writes a script as a JSON object that matches `request.json_schema`."""

    def write_script(self, request: ScriptRequest) -> ScriptResponse: ...


@runtime_checkable
class TTS(Protocol):
    """Speaks text into an audio file and reports its duration and word timings."""

    def synthesize(self, text: str, out_path: Path, settings: VoiceSettings) -> Speech: ...


@runtime_checkable
class ImageGenerator(Protocol):
    """Makes one image file for a scene."""

    def generate(self, request: ImageRequest, out_path: Path) -> Path: ...


@runtime_checkable
class FootageLibrary(Protocol):
    """Finds stock or local footage for a scene: the best candidates first."""

    def search(self, request: ImageRequest) -> list[Footage]: ...


@runtime_checkable
class Renderer(Protocol):
    """Renders one scene's video segment (no audio) to `out_path`."""

    def render_segment(self, plan: SegmentPlan, out_path: Path) -> Path: ...
