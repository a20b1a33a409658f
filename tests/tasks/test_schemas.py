"""The vocabulary: frozen, validated, with clear messages."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tasks.schemas import Aspect, Brief, RenderSpec, Script


def test_brief_defaults_and_limits() -> None:
    brief = Brief(topic="  How   bees   fly ")
    assert brief.topic == "How bees fly" and brief.duration == 60 and brief.aspect is Aspect.landscape
    for bad in [{"topic": ""}, {"topic": "x", "duration": 9.9}, {"topic": "x", "duration": 1801},
                {"topic": "x", "aspect": "4:3"}, {"topic": "x", "pacing": "slow"}, {"topic": "x", "language": "E N"}]:
        with pytest.raises(ValidationError):
            Brief(**bad)


def test_models_are_frozen() -> None:
    brief = Brief(topic="x")
    with pytest.raises(ValidationError):
        brief.topic = "y"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("resolution", "aspect", "size"),
    [("720p", "16:9", (1280, 720)), ("1080p", "9:16", (1080, 1920)), ("720p", "1:1", (720, 720)),
     ("480p", "16:9", (854, 480)), ("360p", "16:9", (640, 360))],
)
def test_frame_sizes_are_even(resolution: str, aspect: str, size: tuple[int, int]) -> None:
    assert RenderSpec(resolution=resolution).frame_size(Aspect(aspect)) == size


def test_every_ui_field_has_title_and_description() -> None:
    for model in (Brief, RenderSpec):
        for name, field in model.model_fields.items():
            assert field.title, name
            assert field.description, name


def test_script_needs_scenes() -> None:
    with pytest.raises(ValidationError):
        Script(title="t", scenes=())
