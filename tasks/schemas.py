"""Aura's vocabulary: frozen pydantic models passed between the stages.

`Brief` and `RenderSpec` are the flow's parameters, so every field has a title, a description and
a default (except the topic) for the Prefect UI's run form.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from providers.base import CaptionCue, Credit, WordTiming
from providers.errors import ConfigurationError
from providers.registry import parse_provider
from tasks.render_presets import PresetName, RenderPreset, encoder_settings, get_preset

__all__ = [
    "MIN_DURATION",
    "MAX_DURATION",
    "Aspect",
    "Brief",
    "CaptionCue",
    "Credit",
    "Density",
    "Narration",
    "Pacing",
    "Preflight",
    "Providers",
    "RenderSpec",
    "Scene",
    "SceneImage",
    "SceneVisual",
    "Script",
    "StageMetrics",
    "Timeline",
    "TimelineScene",
    "Video",
    "WordTiming",
]

MIN_DURATION = 10.0
MAX_DURATION = 1800.0


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Pacing(StrEnum):
    """How fast the narration moves."""

    chill = "chill"
    conversational = "conversational"
    fast = "fast"


class Density(StrEnum):
    """How much happens per minute: fewer, longer scenes or more, shorter ones."""

    sparse = "sparse"
    balanced = "balanced"
    dense = "dense"


class Aspect(StrEnum):
    """Frame shape."""

    landscape = "16:9"
    portrait = "9:16"
    square = "1:1"


class Brief(_Frozen):
    """What the video is about and for whom."""

    topic: Annotated[str, Field(title="Topic", description="What the video explains, e.g. 'How honeybees communicate'.",
                                min_length=1, max_length=500)]
    audience: str = Field("a general audience", title="Audience", description="Who will watch it.", max_length=200)
    goal: str = Field("", title="Goal", description="What viewers should be able to do or know afterwards.",
                      max_length=300)
    tone: str = Field("friendly", title="Tone", description="Voice of the narration, e.g. friendly, formal.",
                      max_length=60)
    language: str = Field("en", title="Language", description="Language code of the narration, e.g. en, de, fr.",
                          pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    duration: float = Field(60.0, title="Target duration (s)", ge=MIN_DURATION, le=MAX_DURATION,
                            description="Target length in seconds, 10 s to 30 min; the real length follows the speech.")
    pacing: Pacing = Field(Pacing.conversational, title="Pacing", description="Speaking pace.")
    density: Density = Field(Density.balanced, title="Density", description="Scenes per minute.")
    aspect: Aspect = Field(Aspect.landscape, title="Aspect", description="16:9, 9:16 or 1:1.")
    visual_style: str = Field("clean flat illustration", title="Visual style",
                              description="Style words passed to the image provider.", max_length=200)
    references: tuple[Annotated[str, Field(max_length=500_000)], ...] = Field(
        (), title="Reference material", max_length=20,
        description="A few documents as plain text (pages or files you fetched); the most relevant passages "
                    "go into the script prompt.")

    @field_validator("topic")
    @classmethod
    def _topic_has_words(cls, value: str) -> str:
        value = " ".join(value.split())
        if not value:
            raise ValueError("the topic is empty: say what the video is about")
        return value


class RenderSpec(_Frozen):
    """How the video is encoded."""

    resolution: Literal["360p", "480p", "720p", "1080p", "2160p"] = Field(
        "720p", title="Resolution", description="Frame size: the short side in pixels (360p for quick drafts)."
    )
    fps: Literal[24, 25, 30, 60] = Field(30, title="Frames per second", description="24, 25, 30 or 60.")
    quality: Literal["draft", "standard", "high"] = Field("standard", title="Quality",
                                                          description="Encoder effort and bit rate.")
    captions: bool = Field(True, title="Captions", description="Burn captions into the video.")
    motion: bool = Field(True, title="Motion", description="Slow zoom on each image.")
    crossfade: float = Field(0.5, title="Crossfade (s)", ge=0, le=2, description="Crossfade between scenes.")
    # "none" rather than an optional field: Prefect's run form cannot edit a nullable choice
    preset: Literal["none", PresetName] = Field(
        "none", title="Preset",
        description="none: the resolution and the brief's aspect decide the frame; youtube-1080p, shorts "
                    "(1080x1920), square, draft-720p or 4k (H.265) set the frame size and shape instead.")
    caption_style: Literal["phrase", "karaoke"] = Field(
        "phrase", title="Caption style",
        description="phrase: a short phrase at a time; karaoke: the phrase with the spoken word highlighted.")
    music: str = Field("", title="Music", max_length=1000,
                       description="Background music file (looped or trimmed to the video, ducked under speech).")
    music_db: float = Field(-16.0, title="Music level (dB)", ge=-40, le=0,
                            description="Music loudness relative to the narration, before ducking.")
    loudness: float = Field(-14.0, title="Loudness (LUFS)", ge=-30, le=-8,
                            description="Integrated loudness of the final mix; true peak stays at or below -1 dBTP.")
    encoder: str = Field("auto", title="Encoder", pattern=r"^[a-z0-9_]+$",
                         description="auto: a hardware encoder if a test encode works, else libx264 (libx265 for "
                                     "4k); software: always libx264/libx265; or an ffmpeg encoder name.")

    @field_validator("preset", mode="before")
    @classmethod
    def _no_preset(cls, value: object) -> object:
        return "none" if value is None or value == "" else value

    def chosen_preset(self) -> RenderPreset | None:
        """The named preset, or None when the resolution and the aspect decide."""
        return None if self.preset == "none" else get_preset(self.preset)

    def frame_size(self, aspect: Aspect) -> tuple[int, int]:
        """Width and height for this preset, or for this resolution and aspect (even numbers, as H.264 needs)."""
        chosen = self.chosen_preset()
        if chosen is not None:
            return chosen.width, chosen.height
        short = int(self.resolution.removesuffix("p"))
        if aspect is Aspect.square:
            return short, short
        long = round(short * 16 / 9 / 2) * 2
        return (long, short) if aspect is Aspect.landscape else (short, long)

    def codec_family(self) -> str:
        """h264, or hevc for presets that ask for H.265."""
        chosen = self.chosen_preset()
        return chosen.codec if chosen is not None else "h264"

    def encoder_settings(self) -> tuple[str, int]:
        """Encoder speed preset and CRF for the quality level (and the preset's codec and cap)."""
        return encoder_settings(self.quality, self.codec_family(), self.chosen_preset())


class Providers(_Frozen):
    """Provider spec strings for one run; see `aura generate --help`."""

    llm: str = Field("local", title="Script writer", description="e.g. local, openai:gpt-4o-mini, ollama:llama3.1")
    tts: str = Field("local", title="Voice", description="e.g. local, espeak:en-us, elevenlabs:VOICE_ID")
    images: str = Field("local", title="Images", description="e.g. local, diffusers:stabilityai/sdxl-turbo")
    renderer: str = Field("ffmpeg", title="Renderer", description="ffmpeg (default) or moviepy")

    @field_validator("llm", "tts", "images", "renderer")
    @classmethod
    def _known_vendor(cls, value: str, info: ValidationInfo) -> str:
        # checked with the input at every door (CLI, API, run form, deployment parameters), not when a stage runs
        try:
            parse_provider(str(info.field_name), value)
        except ConfigurationError as exc:
            raise ValueError(str(exc)) from None
        return value


class Preflight(_Frozen):
    """What the machine check found."""

    ffmpeg: str
    free_disk_gb: float
    available_memory_mb: int


class Scene(_Frozen):
    """One scene of the script."""

    title: str = Field(min_length=1, max_length=200)
    narration: str = Field(min_length=1, max_length=5000)
    visual_prompt: str = Field(min_length=1, max_length=1000)
    # footage search terms in English (1-3); empty in scripts written before they existed
    queries: tuple[Annotated[str, Field(max_length=100)], ...] = Field(default=(), max_length=3)

    @field_validator("queries", mode="before")
    @classmethod
    def _tidy_queries(cls, value: object) -> object:
        # a writer's extra or overlong terms are trimmed rather than failing the whole script
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list | tuple):
            return value
        tidy = [" ".join(str(q).split())[:100] for q in value if isinstance(q, str | int | float)]
        return tuple(dict.fromkeys(q for q in tidy if q))[:3]


class Script(_Frozen):
    """The script: a title and its scenes."""

    title: str = Field(min_length=1, max_length=200)
    scenes: tuple[Scene, ...] = Field(min_length=1)
    prompt_tokens: int = Field(0, ge=0, description="Prompt tokens the LLM reported for this script.")
    completion_tokens: int = Field(0, ge=0, description="Completion tokens the LLM reported for this script.")
    provider: str = Field("local", description="The writer that produced this script.")
    fallback_reason: str | None = Field(None, description="Why the configured writer was passed over, if it was.")
    length_note: str | None = Field(None, description="How far the narration is from the target length, if far.")

    @property
    def word_count(self) -> int:
        """Words of narration in the whole script."""
        return sum(len(s.narration.split()) for s in self.scenes)


class Narration(_Frozen):
    """One scene's narration audio, its real duration and per-word timings."""

    index: int = Field(ge=0)
    audio: Path
    duration: float = Field(gt=0)
    words: tuple[WordTiming, ...]
    digest: str
    timings_estimated: bool = False
    provider: str = "local"
    fallback_reason: str | None = None


class SceneVisual(_Frozen):
    """One scene's visual: a still image, or a video clip (stock footage, the user's media)."""

    index: int = Field(ge=0)
    path: Path
    width: int
    height: int
    digest: str
    provider: str = "local"
    degraded: bool = False
    fallback_reason: str | None = None
    kind: Literal["image", "clip"] = "image"
    seconds: float = Field(0.0, ge=0, description="A clip's length (0 for an image).")
    fps: float = Field(0.0, ge=0, description="A clip's average frame rate (0 for an image).")
    credit: Credit | None = None
    source_key: str = ""  # the footage item's key (e.g. pexels-video:123), so no clip is used twice
    poster: Path | None = None  # a clip's first frame as a picture, for storyboards (None for an image)


SceneImage = SceneVisual  # the name before clips existed; cached results and older code use it


class TimelineScene(_Frozen):
    """One scene placed on the video's clock."""

    index: int
    image: Path
    image_digest: str
    start: float
    duration: float
    zoom: tuple[float, float]
    fade_in: float
    captions: tuple[CaptionCue, ...]
    render_duration: float = 0.0  # the segment as rendered, on whole frames of its own audio (0: `duration`)
    clip_seconds: float = 0.0  # > 0: `image` is a clip this long
    clip_start: float = 0.0  # where in the clip the scene starts


class Timeline(_Frozen):
    """The whole video laid out: frame size, scenes, captions and the narration track."""

    width: int
    height: int
    fps: int
    audio: Path
    audio_digest: str
    duration: float
    scenes: tuple[TimelineScene, ...]
    captions: tuple[CaptionCue, ...]
    show_captions: bool = True
    motion: bool = True
    preset: str = "veryfast"
    crf: int = 23
    codec: str = "libx264"
    caption_style: str = "phrase"
    loudness: float | None = None  # the mix's integrated loudness target (LUFS), checked after the mux
    true_peak: float = -1.0
    music: bool = False


class StageMetrics(_Frozen):
    """Figures for one stage of one run."""

    seconds: float = 0.0
    items_done: int = 0
    items_failed: int = 0
    retries: int = 0
    peak_memory_mb: float = 0.0
    provider: str = ""
    cached: bool = False
    degraded: str | None = None


class Video(_Frozen):
    """The finished video and how it was made."""

    path: Path
    srt: Path | None = None
    duration: float
    narration_duration: float
    width: int
    height: int
    fps: float
    video_codec: str
    audio_codec: str
    size_bytes: int
    title: str
    scenes: int
    job_key: str
    created_at: datetime
    metrics: dict[str, StageMetrics] = Field(default_factory=dict)
    estimated_cost_usd: float | None = None
    cost_usd: float | None = None
    degraded: dict[str, str] = Field(default_factory=dict, description="Stages that fell back, and why.")
