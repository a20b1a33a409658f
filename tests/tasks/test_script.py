"""Script planning, cleaning, parsing and checking (pure), and the task through .fn()."""

from __future__ import annotations

import pytest

from providers.errors import InvalidOutputError
from tasks.schemas import Brief
from tasks.script import build_request, clean_narration, parse_script, plan_scenes, script_problems, write_script


def test_plan_scales_with_duration_density_and_pacing() -> None:
    assert plan_scenes(Brief(topic="x", duration=60)) == (8, 19)
    assert plan_scenes(Brief(topic="x", duration=60, density="dense"))[0] == 12
    assert plan_scenes(Brief(topic="x", duration=10, density="sparse"))[0] == 1
    slow = plan_scenes(Brief(topic="x", duration=60, pacing="chill"))
    fast = plan_scenes(Brief(topic="x", duration=60, pacing="fast"))
    assert slow[1] < fast[1]


def test_request_carries_topic_and_a_schema_without_defaults() -> None:
    request = build_request(Brief(topic="Tides", audience="sailors", goal="predict high water"))
    assert "Tides" in request.user and "sailors" in request.user and "predict high water" in request.user
    assert "default" not in str(request.json_schema)
    assert "no stage directions" in request.system


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("[upbeat music] Hello there.", "Hello there."),
        ("Scene 1: Bees dance.", "Bees dance."),
        ("Narrator: Bees (pause) dance. *beat*", "Bees dance."),
        ("Bees, in fact (and wasps), dance.", "Bees, in fact (and wasps), dance."),
    ],
)
def test_clean_narration(raw: str, clean: str) -> None:
    assert clean_narration(raw) == clean


def test_parse_script_rejects_garbage_clearly() -> None:
    with pytest.raises(InvalidOutputError, match="not valid JSON"):
        parse_script("{nope")
    with pytest.raises(InvalidOutputError, match="no scenes"):
        parse_script({"title": "t", "scenes": []})
    script = parse_script('{"title": "T", "scenes": [{"title": "a", "narration": "[sfx] Hi.", "visual_prompt": "p"}]}')
    assert script.scenes[0].narration == "Hi."


def test_problems_name_what_is_wrong() -> None:
    brief = Brief(topic="x", duration=60)
    short = parse_script({"title": "T", "scenes": [{"title": "a", "narration": "Too short.", "visual_prompt": "p"}]})
    problems = script_problems(short, brief)
    assert any("scenes" in p for p in problems) and any("words" in p for p in problems)


def test_write_script_task_with_local_writer() -> None:
    brief = Brief(topic="How tides work", duration=30)
    script = write_script.fn(brief, "local")
    assert len(script.scenes) == plan_scenes(brief)[0]
