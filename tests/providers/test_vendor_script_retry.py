"""The script task with a real LLM provider: one retry with the problems fed back, and reference material."""

from __future__ import annotations

import pytest

from providers.errors import InvalidOutputError
from tasks.schemas import Brief
from tasks.script import build_request, plan_scenes, write_script
from tests.fakes.openai_server import FakeOpenAI, make_script

BRIEF = Brief(topic="How honeybees communicate", duration=60)


def test_a_rejected_script_is_retried_once_with_its_problems(openai_server: FakeOpenAI) -> None:
    scenes, words = plan_scenes(BRIEF)
    openai_server.replies.extend([make_script(2, 5), make_script(scenes, words)])
    script = write_script.fn(BRIEF, "openai:gpt-4o-mini")
    assert len(script.scenes) == scenes
    assert script.completion_tokens == 2 * 321 and script.prompt_tokens > 0  # both attempts counted
    first, second = (r.body["messages"][1]["content"] for r in openai_server.requests)
    assert "rejected" not in first
    assert "rejected" in second and "only 2 scenes" in second and "words of narration" in second


def test_two_bad_scripts_fail_the_run_with_the_problems(openai_server: FakeOpenAI) -> None:
    openai_server.replies.extend([make_script(2, 5), make_script(1, 3)])
    with pytest.raises(InvalidOutputError, match=r"after a retry: only 1 scenes; write 8; 3 words"):
        write_script.fn(BRIEF, "openai:gpt-4o-mini")
    assert len(openai_server.requests) == 2


def test_a_script_that_does_not_fit_the_schema_is_retried(openai_server: FakeOpenAI) -> None:
    scenes, words = plan_scenes(BRIEF)
    openai_server.replies.extend([{"title": "T", "scenes": []}, make_script(scenes, words)])
    assert len(write_script.fn(BRIEF, "openai:gpt-4o-mini").scenes) == scenes
    # the retry says what was wrong with the first answer
    assert "no scenes" in openai_server.requests[1].body["messages"][1]["content"]


def test_reference_passages_go_into_the_prompt(openai_server: FakeOpenAI) -> None:
    relevant = ("Waggle dance\n\nA forager honeybee performs the waggle dance to tell the hive the "
                "direction and distance of flowers. The angle of the waggle run shows the direction "
                "relative to the sun.")
    unrelated = "Tax law\n\n" + " ".join(["Deductions for home offices need exclusive business use."] * 40)
    brief = BRIEF.model_copy(update={"references": (unrelated, relevant)})
    request = build_request(brief)
    assert "waggle dance" in request.user and "Deductions" not in request.user
    assert "[2: Waggle dance]" in request.user
    assert "references" not in request.brief  # the documents are not shipped twice
    write_script.fn(brief, "openai:gpt-4o-mini")
    assert "waggle run" in openai_server.requests[0].body["messages"][1]["content"]
