"""The local script writer: deterministic, brief-driven, plain speech."""

from __future__ import annotations

import re

from providers.llm.template import TemplateWriter
from tasks.schemas import Brief
from tasks.script import build_request, parse_script, plan_scenes, script_problems


def _script(brief: Brief):
    return parse_script(TemplateWriter().write_script(build_request(brief)).data)


def test_same_brief_gives_same_script() -> None:
    brief = Brief(topic="How volcanoes form", duration=60)
    assert _script(brief) == _script(brief)


def test_topic_audience_and_goal_change_the_script() -> None:
    base = Brief(topic="How volcanoes form", duration=60, audience="children", goal="name the layers of the earth")
    others = [
        base.model_copy(update={"topic": "Why the sky is blue"}),
        base.model_copy(update={"audience": "geology students"}),
        base.model_copy(update={"goal": "explain plate tectonics"}),
    ]
    first = _script(base)
    for other in others:
        assert _script(other) != first


def test_scene_count_and_length_follow_duration_and_density() -> None:
    for duration, density in [(10, "sparse"), (60, "balanced"), (300, "dense"), (1800, "balanced")]:
        brief = Brief(topic="Honeybees", duration=duration, density=density)
        script = _script(brief)
        scenes, words = plan_scenes(brief)
        assert len(script.scenes) == scenes
        assert script_problems(script, brief) == []
        # about 150 words per minute at the conversational pace
        assert abs(script.word_count - duration / 60 * 150) <= 0.25 * duration / 60 * 150 + 8


def test_narration_has_no_directions_or_labels() -> None:
    script = _script(Brief(topic="Photosynthesis", duration=120))
    for scene in script.scenes:
        assert not re.search(r"[\[\]*]|^scene \d", scene.narration, re.I)
        assert scene.visual_prompt and scene.title
