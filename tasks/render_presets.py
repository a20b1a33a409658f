"""Render presets (pure): named frame sizes and codecs, and quality levels mapped to encoder settings.

A preset fixes the frame (size and shape) and the codec family; the quality level (draft, standard,
high) picks the encoder's speed preset and constant-quality value. `draft-720p` is a draft by name,
so it also caps the quality at draft.

| preset          | frame       | shape | codec |
|-----------------|-------------|-------|-------|
| youtube-1080p   | 1920×1080   | 16:9  | H.264 |
| shorts          | 1080×1920   | 9:16  | H.264 (YouTube Shorts, TikTok, Reels) |
| square          | 1080×1080   | 1:1   | H.264 |
| draft-720p      | 1280×720    | 16:9  | H.264, draft quality |
| 4k              | 3840×2160   | 16:9  | H.265 (tagged hvc1 so that Apple players accept it) |
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["PRESETS", "PresetName", "Quality", "RenderPreset", "encoder_settings", "get_preset"]

PresetName = Literal["youtube-1080p", "shorts", "square", "draft-720p", "4k"]
Quality = Literal["draft", "standard", "high"]


@dataclass(frozen=True)
class RenderPreset:
    """A named frame size, shape and codec family."""

    name: str
    width: int
    height: int
    aspect: str  # "16:9", "9:16" or "1:1", as in `Brief.aspect`
    codec: Literal["h264", "hevc"] = "h264"
    max_quality: Quality | None = None  # draft presets stay drafts whatever quality is asked
    description: str = ""


PRESETS: dict[str, RenderPreset] = {
    p.name: p
    for p in (
        RenderPreset("youtube-1080p", 1920, 1080, "16:9", description="YouTube and other landscape players"),
        RenderPreset("shorts", 1080, 1920, "9:16", description="YouTube Shorts, TikTok, Instagram Reels"),
        RenderPreset("square", 1080, 1080, "1:1", description="feeds that favour square video"),
        RenderPreset("draft-720p", 1280, 720, "16:9", max_quality="draft", description="fast previews"),
        RenderPreset("4k", 3840, 2160, "16:9", codec="hevc", description="UHD, H.265"),
    )
}

# quality -> (encoder speed preset, constant rate factor); x265's CRF scale sits about 4-5 above x264's
_X264: dict[str, tuple[str, int]] = {"draft": ("ultrafast", 28), "standard": ("veryfast", 23), "high": ("medium", 20)}
_X265: dict[str, tuple[str, int]] = {"draft": ("ultrafast", 32), "standard": ("veryfast", 27), "high": ("medium", 24)}
_ORDER: tuple[Quality, ...] = ("draft", "standard", "high")


def get_preset(name: str) -> RenderPreset:
    """The preset called `name`; a ValueError names the choices otherwise."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown render preset {name!r}: choose one of {', '.join(PRESETS)}") from None


def encoder_settings(quality: Quality, codec: str = "h264", preset: RenderPreset | None = None) -> tuple[str, int]:
    """(speed preset, CRF) for a quality level and codec family, capped by the render preset's maximum."""
    if preset is not None and preset.max_quality is not None:
        quality = min(quality, preset.max_quality, key=_ORDER.index)
    table = _X265 if codec == "hevc" else _X264
    return table[quality]
