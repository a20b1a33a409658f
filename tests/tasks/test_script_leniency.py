"""Writers' scripts are taken leniently where that is safe, strictly where it is not (issue 13, "every valid
brief renders"): no paid run fails over a long title, markdown or a length within 2x/0.5x of the target."""

from __future__ import annotations

from typing import Any

import pytest

from providers.base import ScriptResponse
from providers.errors import InvalidOutputError
from tasks.schemas import Brief
from tasks.script import clean_narration, draft_script, length_note, parse_script, plan_scenes, script_problems

BRIEF = Brief(topic="How honeybees communicate", duration=60)


def _script(scenes: int, words: int, **extra: Any) -> dict[str, Any]:
    return {"title": "Bees", "scenes": [
        {"title": f"Part {i + 1}", "narration": " ".join(["buzz"] * words), "visual_prompt": "a bee", **extra}
        for i in range(scenes)]}


def test_over_long_titles_are_shortened_at_a_word() -> None:
    data = _script(2, 5)
    data["title"] = "The " + "very " * 80 + "long title"
    data["scenes"][0]["title"] = "word " * 60
    script = parse_script(data)
    assert len(script.title) <= 200 and script.title.endswith("…") and script.title.startswith("The very")
    assert len(script.scenes[0].title) <= 200 and " wor…" not in script.scenes[0].title


def test_markdown_and_stage_directions_never_reach_the_voice_or_the_titles() -> None:
    data = _script(1, 3)
    data["title"] = "## **How bees talk**"
    data["scenes"][0].update(title="# Scene 1: *The dance*", narration=(
        "**Narrator:** Bees [upbeat music] dance.\n- They _waggle_ to point at `flowers`.\n"
        "1. See [the hive](https://example.org/hive) (pause) listen."))
    script = parse_script(data)
    assert script.title == "How bees talk"
    assert script.scenes[0].title == "The dance"
    assert script.scenes[0].narration == "Bees dance. They waggle to point at flowers. See the hive listen."


def test_missing_titles_and_prompts_are_made_up_but_empty_narration_is_refused() -> None:
    script = parse_script({"title": "", "scenes": [{"narration": "Bees dance to tell where food is."}]})
    assert script.title == script.scenes[0].title == "Bees dance to tell where food"
    assert script.scenes[0].visual_prompt
    with pytest.raises(InvalidOutputError, match="no narration"):
        parse_script({"title": "Bees", "scenes": [{"title": "x", "narration": "[music] (pause)"}]})
    with pytest.raises(InvalidOutputError, match="no scenes"):
        parse_script({"title": "Bees", "scenes": []})
    with pytest.raises(InvalidOutputError, match="no scenes"):
        parse_script({"title": "Bees"})


@pytest.mark.parametrize("ratio", [0.5, 0.7, 1.0, 1.6, 2.0])
def test_a_length_within_half_and_twice_the_target_is_used_as_it_is(ratio: float) -> None:
    scenes, words = plan_scenes(BRIEF)
    script = parse_script(_script(scenes, round(words * ratio)))
    assert script_problems(script, BRIEF) == []
    note = length_note(script, BRIEF)
    assert (note is None) == (0.8 <= script.word_count / (scenes * words) <= 1.25)
    if note:
        assert f"{script.word_count} words of narration for about {scenes * words} asked" in note


@pytest.mark.parametrize("ratio", [0.3, 2.6])
def test_a_length_far_off_the_target_is_a_problem(ratio: float) -> None:
    scenes, words = plan_scenes(BRIEF)
    assert script_problems(parse_script(_script(scenes, round(words * ratio))), BRIEF)


@pytest.mark.parametrize("delta", [-1, 1])
def test_a_scene_count_off_by_one_is_accepted(delta: int) -> None:
    scenes, words = plan_scenes(BRIEF)
    script = parse_script(_script(scenes + delta, words))
    assert script_problems(script, BRIEF) == []


class _Writer:
    """A writer answering with the given scripts in turn, and counting its calls."""

    def __init__(self, *answers: dict[str, Any]) -> None:
        self.answers = list(answers)
        self.calls = 0

    def write_script(self, request: Any) -> ScriptResponse:
        self.calls += 1
        return ScriptResponse(data=self.answers.pop(0), prompt_tokens=10, completion_tokens=20, provider="fake")


def test_a_long_script_is_used_at_once_and_says_how_far_it_is_from_the_target() -> None:
    scenes, words = plan_scenes(BRIEF)
    writer = _Writer(_script(scenes, words * 19 // 10))  # 1.9x: the old check (1.5x) asked again, then failed
    script = draft_script(writer, BRIEF, "openai:gpt-4o-mini")
    assert writer.calls == 1
    assert script.length_note is not None and "1.9× the target" in script.length_note


def test_clean_narration_keeps_snake_case_and_plain_words() -> None:
    assert clean_narration("The bee_dance module - not markdown.") == "The bee_dance module - not markdown."
