"""What a run shows in the Prefect UI: weighted progress, contact sheet, metrics, costs, correlation ids,
and a tracker inside a real flow run writing its artifacts through the API."""

from __future__ import annotations

import base64
import io
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from prefect import flow, get_run_logger, task, unmapped
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

from tasks.runtime.artifacts import (
    RunTracker,
    SheetCell,
    contact_sheet,
    jpeg_data_uri,
    metrics_markdown,
    stage_costs,
    storyboard_markdown,
)
from tasks.runtime.correlation import CorrelationFilter, bind_correlation_id, correlation_id_for
from tasks.runtime.events import RunProgress, event_name
from tasks.runtime.progress import Progress, report
from tasks.schemas import Providers, Scene, SceneImage, Script, StageMetrics, Video

STAGES = ["brief", "script", "voice", "visuals", "composition"]


def P(stage: str, state: str, done: int = 0, total: int = 1) -> Progress:  # noqa: N802
    return Progress(stage, done, total, f"{stage} {state}", state)


def test_progress_is_weighted_by_stage_and_by_items_within_a_stage() -> None:
    run = RunProgress()
    assert run.update(P("brief", "started")) == 0
    assert run.update(P("brief", "finished")) == 5
    assert run.update(P("script", "finished")) == 25
    assert run.update(P("voice", "started")) == 25
    assert run.update(P("voice", "item", 1, 4)) == 31.2  # 25 + 25 × 1/4
    assert run.update(P("voice", "item", 1, 4)) == 37.5
    assert run.update(P("visuals", "item", 1, 4)) == 45  # + 30 × 1/4
    assert run.update(P("voice", "finished", 4, 4)) == 57.5
    assert run.update(P("visuals", "degraded", 4, 4)) == 80  # a degraded stage is done, with fallbacks
    assert run.update(P("composition", "running", 1, 2)) == 90
    assert run.update(P("composition", "finished", 2, 2)) == 100
    assert run.fraction("voice") == 1 and run.percentage == 100


def test_a_failed_stage_keeps_the_progress_it_had() -> None:
    run = RunProgress()
    run.update(P("brief", "finished"))
    run.update(P("script", "item", 1, 2))
    assert run.update(P("script", "failed")) == 15


def test_event_names_follow_the_report_states() -> None:
    assert [event_name(s) for s in ("started", "item", "running", "finished", "degraded", "failed", "odd")] == [
        "aura.stage.started", "aura.stage.progress", "aura.stage.progress", "aura.stage.finished",
        "aura.stage.degraded", "aura.stage.failed", "aura.stage.progress"]


def _images(folder: Path, n: int, size: tuple[int, int] = (64, 36)) -> list[Path]:
    paths = []
    for i in range(n):
        path = folder / f"scene-{i}.png"
        Image.new("RGB", size, (40 * i % 255, 90, 160)).save(path)
        paths.append(path)
    return paths


def test_contact_sheet_lays_out_every_scene_with_its_caption(tmp_path: Path) -> None:
    cells = [SheetCell(p, f"Scene {i}", "A caption long enough to wrap onto a second line " * 3, degraded=i == 1)
             for i, p in enumerate(_images(tmp_path, 7))]
    sheet = contact_sheet(cells)
    assert sheet.size == (10 + 5 * 250, 10 + 2 * (135 + 55 + 10))  # 5 columns of 240 px, 2 rows
    assert sheet.getpixel((260 + 1, 10 + 60)) == (200, 120, 0)  # the degraded scene is outlined
    portrait = contact_sheet([SheetCell(p, "t", "c") for p in _images(tmp_path, 3, (36, 64))])
    assert portrait.width == 10 + 3 * 160
    with pytest.raises(ValueError):
        contact_sheet([])


def test_storyboard_embeds_the_sheet_and_lists_each_scene(tmp_path: Path) -> None:
    cells = [SheetCell(p, f"Scene | {i}", f"caption {i}", degraded=i == 2) for i, p in enumerate(_images(tmp_path, 3))]
    uri = jpeg_data_uri(contact_sheet(cells))
    decoded = Image.open(io.BytesIO(base64.b64decode(uri.removeprefix("data:image/jpeg;base64,"))))
    assert decoded.format == "JPEG" and decoded.width == 10 + 3 * 250
    text = storyboard_markdown("Bees", cells, uri)
    assert f"![Storyboard of 3 scenes]({uri})" in text
    # a list, not a table: the Prefect UI cuts a wide table off at the right with its scroll bar hidden
    assert "1. **Scene \\| 0**: caption 0" in text
    assert "3. **Scene \\| 2** *(fallback card)*: caption 2" in text and "|---" not in text


def _video(path: Path, metrics: dict[str, StageMetrics] | None = None) -> Video:
    return Video(path=path, duration=12.0, narration_duration=12.0, width=640, height=360, fps=24,
                 video_codec="h264", audio_codec="aac", size_bytes=2_000_000, title="Bees | how", scenes=3,
                 job_key="0123456789abcdef", created_at=datetime.now(UTC), metrics=metrics or {})


def test_metrics_table_has_a_row_per_stage_and_a_total() -> None:
    metrics = {s: StageMetrics(seconds=1.5, items_done=3, retries=1 if s == "voice" else 0, peak_memory_mb=100 + i,
                               provider="local", cached=s == "brief") for i, s in enumerate(STAGES)}
    text = metrics_markdown(_video(Path("/v/bees.mp4")), metrics, {"script": 0.0123}, {"visuals": "2 fallback cards"},
                            "abc123")
    assert "## Bees \\| how" in text and "`/v/bees.mp4`" in text
    assert "| brief | 1.50 | 3 | 0 | 0 | 100 | local | 0.0000 | cached |" in text
    assert "| script | 1.50 | 3 | 0 | 0 | 101 | local | 0.0123 |  |" in text
    assert "| visuals | 1.50 | 3 | 0 | 0 | 103 | local | 0.0000 | 2 fallback cards |" in text
    assert "| **total** | 7.50 | | 0 | 1 | 104 | | 0.0123 | |" in text
    assert "correlation id `abc123`" in text


def test_stage_costs_come_from_the_price_table_and_a_cached_stage_costs_nothing(tmp_path: Path) -> None:
    script = Script(title="t", scenes=(Scene(title="a", narration="x" * 1000, visual_prompt="p"),),
                    prompt_tokens=1000, completion_tokens=1000, provider="openai:gpt-4o-mini")
    pictures = [SceneImage(index=0, path=tmp_path / "a.png", width=1, height=1, digest="d"),
                SceneImage(index=1, path=tmp_path / "b.png", width=1, height=1, digest="d", degraded=True)]
    providers = Providers(llm="openai:gpt-4o-mini", tts="elevenlabs", images="openai:dall-e-3")
    costs = stage_costs(script, pictures, providers, {"voice": StageMetrics(cached=True)})
    assert costs["script"] == pytest.approx(0.00015 + 0.0006)
    assert costs["voice"] == 0.0  # served from the cache this time
    assert costs["visuals"] == pytest.approx(0.08)  # the fallback card cost nothing
    assert costs["brief"] == costs["composition"] == 0.0


def test_correlation_id_is_the_short_run_id_or_the_runs_tag() -> None:
    run = "5f1c2a9e-0000-4000-8000-000000000000"
    assert correlation_id_for(run) == "5f1c2a9e"
    assert correlation_id_for(run, ["aura", "correlation-id:req-42"]) == "req-42"


def test_correlation_filter_stamps_a_runs_records_once() -> None:
    run = "7a7a7a7a-0000-4000-8000-000000000000"
    assert bind_correlation_id(run) == "7a7a7a7a"
    stamp = CorrelationFilter()
    record = logging.LogRecord("prefect.task_runs", logging.INFO, __file__, 1, "step %s", ("one",), None)
    record.flow_run_id = run
    assert stamp.filter(record) and stamp.filter(record)
    assert record.getMessage() == "[7a7a7a7a] step one" and getattr(record, "correlation_id", "") == "7a7a7a7a"
    other = logging.LogRecord("prefect.task_runs", logging.INFO, __file__, 1, "no run", (), None)
    assert stamp.filter(other) and other.getMessage() == "no run"


# --- a tracker in a real flow run, artifacts read back through the API


@task
def _scene(index: int, total: int) -> int:
    report("voice", 1, total, f"scene {index + 1} spoken", "item")
    return index


@flow
def _tracked(folder: str) -> str:
    from prefect.runtime import flow_run

    tracker = RunTracker.start()
    for stage in STAGES:
        report(stage, 0, 1, f"{stage} started", "started")
        if stage == "voice":
            _scene.map(range(3), total=unmapped(3)).wait()
        report(stage, 1, 1, f"{stage} finished", "finished")
    get_run_logger().warning("a line of the run's own")
    paths = _images(Path(folder), 3)
    script = Script(title="Bees", scenes=tuple(Scene(title=f"S{i}", narration=f"Words {i}.", visual_prompt="p")
                                               for i in range(3)))
    pictures = [SceneImage(index=i, path=p, width=64, height=36, digest="d") for i, p in enumerate(paths)]
    metrics = {s: StageMetrics(seconds=0.1, items_done=1, provider="local") for s in STAGES}
    tracker.publish(_video(Path(folder) / "bees.mp4"), script, pictures, Providers(), metrics)
    return str(flow_run.id)


def test_tracker_writes_progress_metrics_storyboard_and_link(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    sent: list[tuple[str, str, float]] = []
    monkeypatch.setattr("tasks.runtime.artifacts.emit_stage_event",
                        lambda event, pct, run, cid, place=(0, 0): sent.append((event.stage, event.state, pct)))
    report("voice", 1, 1, "a report from outside any run", "item")  # no tracker yet: nobody listens

    with caplog.at_level(logging.WARNING):
        run_id = _tracked(str(tmp_path))
    with get_client(sync_client=True) as client:
        of_run = ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
        found = client.read_artifacts(artifact_filter=of_run)
    arts: dict[str | None, Any] = {a.key: a for a in found}
    assert arts["aura-progress"].data == 100 and arts["aura-progress"].description.startswith("100 % ·")
    assert "| composition | 0.10 | 1 |" in arts["aura-metrics"].data
    storyboard = arts["aura-storyboard"].data
    assert "data:image/jpeg;base64," in storyboard and "3. **S2**: Words 2." in storyboard
    # not started by `aura serve`: no URL a browser could open, so the path as text (never a file:// link)
    assert str((tmp_path / "bees.mp4").resolve()) in arts["aura-video"].data and "file:" not in arts["aura-video"].data
    assert all(a.task_run_id is None for a in found)  # on the flow run, not on a task run

    voice = [pct for stage, state, pct in sent if stage == "voice" and state == "item"]
    assert voice == [33.3, 41.7, 50.0]  # 25 + 25 × n/3: items reported from task threads count for this run
    assert sent[-1] == ("composition", "finished", 100)
    own = [r.getMessage() for r in caplog.records if "a line of the run's own" in r.getMessage()]
    assert own == [f"[{run_id[:8]}] a line of the run's own"]

    report("voice", 1, 1, "after the run", "item")  # the tracker let go of the listener
    assert sent[-1] == ("composition", "finished", 100)
