"""Scripts as files: a user's script is checked with errors naming scene and field, and skips the writer.

Editing one scene's narration and rendering again re-speaks that scene only and re-renders only the
segments its new timing touches; the count comes from Prefect's own task-run records.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from tasks.schemas import Brief, RenderSpec, Script
from tasks.script import ScriptFileError, given_script, load_script_file, script_file_text

SCENES = [
    {"title": "The dance", "narration": "Bees dance to share news.", "visual_prompt": "a bee dancing"},
    {"title": "The angle", "narration": "The angle points to food.", "visual_prompt": "a bee and the sun"},
    {"title": "The length", "narration": "Longer dances mean farther.", "visual_prompt": "a long path"},
]


def _write(path: Path, body: object) -> Path:
    path.write_text(json.dumps(body), encoding="utf-8")
    return path


def test_round_trip_keeps_brief_and_scenes(tmp_path: Path) -> None:
    brief = Brief(topic="How honeybees communicate", duration=10)
    script = given_script({"title": "Bees", "scenes": SCENES})
    path = tmp_path / "script.json"
    path.write_text(script_file_text(script, brief), encoding="utf-8")
    loaded_brief, loaded = load_script_file(path)
    assert loaded_brief == brief
    assert [s.narration for s in loaded.scenes] == [s["narration"] for s in SCENES]


@pytest.mark.parametrize(("scenes", "expected"), [
    ([SCENES[0], {**SCENES[1], "narration": ""}], "scene 2: narration: "),
    ([SCENES[0], {k: v for k, v in SCENES[1].items() if k != "visual_prompt"}],
     "scene 2: visual_prompt: Field required"),
    ([{**SCENES[0], "narration": "[music swells] (pause)"}], "scene 1: narration: stage directions only"),
    ([{**SCENES[0], "colour": "red"}], "scene 1: colour: Extra inputs are not permitted"),
    ([], "scenes: "),
])
def test_errors_name_scene_and_field(tmp_path: Path, scenes: list[dict[str, str]], expected: str) -> None:
    path = _write(tmp_path / "script.json", {"title": "Bees", "scenes": scenes})
    with pytest.raises(ScriptFileError) as caught:
        load_script_file(path)
    assert expected in str(caught.value)
    assert str(path) in str(caught.value)


def test_unreadable_files_say_so(tmp_path: Path) -> None:
    with pytest.raises(ScriptFileError, match="does not exist"):
        load_script_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(ScriptFileError, match="not valid JSON"):
        load_script_file(bad)
    with pytest.raises(ScriptFileError, match=r"brief: duration: Input should be greater than or equal to 10"):
        load_script_file(_write(tmp_path / "b.json", {"brief": {"topic": "x", "duration": 3}, "title": "t",
                                                      "scenes": SCENES}))


def test_stage_directions_never_reach_the_voice() -> None:
    script = given_script({"title": "Bees", "scenes": [{**SCENES[0], "narration": "[music] Bees dance. (pause)"}]})
    assert script.scenes[0].narration == "Bees dance."


def _task_states(flow_run_id: object) -> dict[str, Counter[str]]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        runs = client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])))
    states: dict[str, Counter[str]] = {}
    for run in runs:
        name = run.name.rsplit("-", 1)[0]
        states.setdefault(name, Counter())[run.state.name if run.state else "?"] += 1
    return states


@pytest.mark.e2e
def test_editing_one_scene_redoes_only_that_scene(aura_home: Path, tmp_path: Path) -> None:
    from flows.make_video import make_video

    brief = Brief(topic="How honeybees communicate", duration=10, density="sparse")
    render = RenderSpec(resolution="360p", fps=24, quality="draft", crossfade=0)
    first = given_script({"title": "Bees", "scenes": SCENES})
    out = tmp_path / "bees.mp4"
    state = make_video(brief=brief, render=render, script=first, out=str(out), return_state=True)
    assert state.is_completed(), state.message
    before = _task_states(state.state_details.flow_run_id)
    assert before["write_script"]["Completed"] == 1  # the given script, checked; no writer was asked
    assert before["synthesize_narration"]["Completed"] == 3

    edited = Script.model_validate({"title": "Bees", "scenes": [
        SCENES[0], {**SCENES[1], "narration": "The angle to the sun points the way to the flowers."}, SCENES[2]]})
    again = make_video(brief=brief, render=render, script=edited, out=str(out), return_state=True)
    assert again.is_completed(), again.message
    after = _task_states(again.state_details.flow_run_id)
    # only scene 2 is spoken again; its segment is the only one re-rendered (no crossfade reaches the next)
    assert after["synthesize_narration"] == Counter({"Cached": 2, "Completed": 1})
    assert after["render_segment"] == Counter({"Cached": 2, "Completed": 1})
    # a drawn card shows a line of its scene's narration: scene 2's card is drawn again, no other picture
    visuals = sum((c for name, c in after.items() if "visual" in name or "image" in name), Counter())
    assert visuals["Completed"] <= 1 and visuals["Cached"] >= 2, after
    video = again.result()
    assert video.scenes == 3 and out.is_file()
