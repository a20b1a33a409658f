"""Review in the run, through the real (session) Prefect server: approve, edit, reject and time out.

The answers come from another thread through Prefect's API (`resume_flow_run` with run input), as
the UI, `aura review` or the REST API would send them; the run itself is paused in this process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tasks.review import PendingReview, pending_review, remaining_cost, review_answer, review_markdown
from tasks.schemas import Brief, Providers, RenderSpec, Script
from tasks.script import given_script

SCENES = [
    {"title": "The dance", "narration": "Bees dance to share news.", "visual_prompt": "a bee dancing"},
    {"title": "The angle", "narration": "The angle points to food.", "visual_prompt": "a bee and the sun"},
]
BRIEF = Brief(topic="How honeybees communicate", duration=10, density="sparse")
RENDER = RenderSpec(resolution="360p", fps=24, quality="draft", crossfade=0)


def test_the_form_text_shows_every_scene_and_what_the_rest_costs() -> None:
    script = given_script({"title": "Bees", "scenes": SCENES})
    paid = Providers(tts="elevenlabs:voice", images="openai:gpt-image-1")
    cost = remaining_cost(script, paid)
    assert [line.capability for line in cost.lines] == ["tts", "images"]  # the script is already paid for
    assert cost.lines[1].quantity == 2 and cost.total_usd > 0
    text = review_markdown(script, cost, 3600)
    assert "Bees dance to share news." in text and "a bee and the sun" in text
    assert cost.summary() in text and "1 h" in text


def _waiting(timeout: float = 120) -> PendingReview:
    """The review the (only) paused run of this test waits for."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
    from prefect.client.schemas.objects import StateType

    paused = FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED])))
    deadline = time.monotonic() + timeout
    with get_client(sync_client=True) as client:
        while time.monotonic() < deadline:
            for run in client.read_flow_runs(flow_run_filter=paused):
                found = pending_review(run.id)
                if found is not None:
                    return found
            time.sleep(0.2)
    raise TimeoutError("no run waited in review")


@pytest.fixture
def answer() -> Iterator[Callable[[Callable[[PendingReview], None]], list[PendingReview]]]:
    """Answer the next review from another thread with `respond(pending)`; what it saw is returned."""
    threads: list[threading.Thread] = []

    def start(respond: Callable[[PendingReview], None]) -> list[PendingReview]:
        seen: list[PendingReview] = []

        def work() -> None:
            pending = _waiting()
            seen.append(pending)
            respond(pending)

        thread = threading.Thread(target=work, daemon=True)
        thread.start()
        threads.append(thread)
        return seen

    yield start
    for thread in threads:
        thread.join(timeout=30)


def _run(tmp_path: Path, **kwargs: Any) -> Any:
    from flows.make_video import make_video

    return make_video(brief=BRIEF, render=RENDER, script=given_script({"title": "Bees", "scenes": SCENES}),
                      out=str(tmp_path / "bees.mp4"), review=True, return_state=True, **kwargs)


@pytest.mark.e2e
def test_approved_as_it_is(aura_home: Path, tmp_path: Path, answer: Any) -> None:
    seen = answer(lambda pending: review_answer(pending.flow_run_id, "approve"))
    state = _run(tmp_path)
    assert state.is_completed(), state.message
    assert seen[0].script.title == "Bees" and "Bees dance to share news." in seen[0].description
    assert (tmp_path / "bees.mp4").is_file() and state.result().scenes == 2


@pytest.mark.e2e
def test_edited_script_is_the_one_rendered(aura_home: Path, tmp_path: Path, answer: Any) -> None:
    def edit(pending: PendingReview) -> None:
        scenes = [pending.script.scenes[0].model_copy(update={"narration": "Bees dance. [music] Then they rest."})]
        review_answer(pending.flow_run_id, "approve", Script(title="Resting bees", scenes=tuple(scenes)))

    answer(edit)
    state = _run(tmp_path)
    assert state.is_completed(), state.message
    video = state.result()
    assert (video.title, video.scenes) == ("Resting bees", 1)
    captions = Path(video.srt).read_text(encoding="utf-8")
    assert "rest" in captions and "music" not in captions  # the edit is checked like any script


@pytest.mark.e2e
def test_rejected_ends_cancelled_with_the_reason(aura_home: Path, tmp_path: Path, answer: Any) -> None:
    answer(lambda pending: review_answer(pending.flow_run_id, "reject", reason="too dull"))
    state = _run(tmp_path)
    assert state.is_cancelled()
    assert "rejected in review: too dull" in (state.message or "")
    assert not (tmp_path / "bees.mp4").exists()
    assert not list((aura_home / "runs").glob("*/voice/*"))  # nothing was spoken: nothing paid was spent


@pytest.mark.e2e
def test_unanswered_review_times_out_and_ends_cleanly(aura_home: Path, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from providers.settings import get_settings

    monkeypatch.setenv("AURA_REVIEW_TIMEOUT", "2")
    get_settings.cache_clear()
    state = _run(tmp_path)
    assert state.is_cancelled() or state.is_failed()
    assert "not reviewed in time" in (state.message or "") or "never resumed" in (state.message or "")
    assert not (tmp_path / "bees.mp4").exists()
