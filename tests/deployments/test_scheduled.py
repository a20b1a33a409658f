"""The scheduled deployment's flow: the next brief of a list or a briefs file, one per run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flows.scheduled import render_next_brief
from providers.media.streams import probe
from providers.settings import get_settings
from tasks.playlist import next_brief, parse_briefs, video_path
from tasks.preflight import BriefError
from tasks.schemas import Brief, Providers, RenderSpec

DRAFT = RenderSpec(resolution="360p", fps=24, quality="draft")


def test_briefs_files_in_yaml_json_and_text() -> None:
    yaml_text = "briefs:\n  - topic: Why the sky is blue\n    duration: 45\n  - How a bicycle stays upright\n"
    assert [(b.topic, b.duration) for b in parse_briefs(yaml_text, ".yaml")] == [
        ("Why the sky is blue", 45.0), ("How a bicycle stays upright", 60.0)]
    assert [b.topic for b in parse_briefs(json.dumps([{"topic": "Tides"}, "Volcanoes"]), ".json")] == [
        "Tides", "Volcanoes"]
    assert [b.topic for b in parse_briefs("# queue\nTides\n\nVolcanoes  # next week\n", ".txt")] == [
        "Tides", "Volcanoes"]


@pytest.mark.parametrize("text, suffix, complaint", [
    ("briefs: 3", ".yaml", "a list of briefs or topics"),
    ("- topic: Tides\n  duration: 2\n", ".yml", "brief 1 in the briefs file: duration: Input should be greater"),
    ("[]", ".toml", "not '.toml'"),
])
def test_a_bad_briefs_file_says_what_to_fix(text: str, suffix: str, complaint: str) -> None:
    with pytest.raises(BriefError, match=complaint):
        parse_briefs(text, suffix)


def test_next_brief_is_the_first_without_a_video(tmp_path: Path) -> None:
    briefs = [Brief(topic="Tides"), Brief(topic="Volcanoes")]
    providers = Providers()
    assert next_brief(briefs, DRAFT, providers, tmp_path) == briefs[0]
    done = video_path(briefs[0], DRAFT, providers, tmp_path)
    done.parent.mkdir(parents=True, exist_ok=True)
    done.write_bytes(b"x")
    assert next_brief(briefs, DRAFT, providers, tmp_path) == briefs[1]
    assert next_brief(briefs, RenderSpec(), providers, tmp_path) == briefs[0]  # another render is another video


def test_each_run_renders_the_next_brief_then_nothing(aura_home: Path) -> None:
    first = Brief(topic="How tides work", duration=10, density="sparse")
    second = Brief(topic="How volcanoes erupt", duration=10, density="sparse")
    videos = get_settings().home.expanduser() / "videos"
    queued = video_path(first, DRAFT, Providers(), videos)  # pretend the first one was rendered yesterday
    queued.parent.mkdir(parents=True, exist_ok=True)
    queued.write_bytes(b"rendered yesterday")

    video = render_next_brief(briefs=[first, second], render=DRAFT)
    assert video is not None and video.path == video_path(second, DRAFT, Providers(), videos)
    assert probe(video.path).video_duration > 5
    assert render_next_brief(briefs=[first, second], render=DRAFT) is None


def test_a_run_without_briefs_fails_with_what_to_give() -> None:
    with pytest.raises(BriefError, match="give `briefs` or a `briefs_file`"):
        render_next_brief(render=DRAFT)
