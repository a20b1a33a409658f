"""Batches: each brief checked on its own, one flow run per brief under Prefect's limit, resume on re-run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tasks.playlist import batch_item, batch_rows, load_batch
from tasks.preflight import BriefError
from tasks.schemas import Providers, RenderSpec

DRAFT = RenderSpec(resolution="360p", fps=24, quality="draft")  # as `--resolution 360p --fps 24 --quality draft`
CSV = """topic,duration,density,voice,captions
How tides work,10,sparse,local,false
Why the sky is blue,10,sparse,,
How volcanoes erupt,3,sparse,,
How magnets work,10,sparse,,
How rainbows form,10,sparse,,
"""


def test_csv_and_yaml_rows_use_the_cli_words(tmp_path: Path) -> None:
    rows = batch_rows(CSV, ".csv")
    assert rows[0] == {"topic": "How tides work", "duration": "10", "density": "sparse", "voice": "local",
                       "captions": "false"}
    assert rows[1] == {"topic": "Why the sky is blue", "duration": "10", "density": "sparse"}
    item = batch_item(1, rows[0], DRAFT, Providers(), tmp_path)
    assert item.error is None and item.brief is not None
    assert (item.brief.duration, item.render.captions, item.providers.tts, item.render.fps) == (10, False, "local", 24)
    assert Path(item.out).parent == tmp_path and not item.done
    yaml_rows = batch_rows("- Tides\n- topic: Volcanoes\n  aspect: '9:16'\n  style: woodcut\n", ".yaml")
    second = batch_item(2, yaml_rows[1], DRAFT, Providers(), tmp_path)
    assert second.brief is not None and (second.brief.aspect.value, second.brief.visual_style) == ("9:16", "woodcut")


@pytest.mark.parametrize(("row", "expected"), [
    ({"topic": "Tides", "duration": "3"}, "brief 4: duration: Input should be greater than or equal to 10"),
    ({"topic": "Tides", "voice": "klingon:warrior"}, "brief 4: voice: "),
    ({"topic": "Tides", "colour": "red"}, "brief 4: colour: not a field of a brief"),
    ({"topic": " "}, "brief 4: topic: the topic is empty"),
])
def test_a_bad_brief_says_which_and_what_to_fix(tmp_path: Path, row: dict[str, str], expected: str) -> None:
    item = batch_item(4, row, DRAFT, Providers(), tmp_path)
    assert item.error is not None and item.error.startswith(expected), item.error


def test_a_bad_file_fails_as_a_whole(tmp_path: Path) -> None:
    with pytest.raises(BriefError, match="does not exist"):
        load_batch(tmp_path / "none.yaml", DRAFT, Providers(), tmp_path)
    odd = tmp_path / "briefs.xlsx"
    odd.write_text("x")
    with pytest.raises(BriefError, match="ends in .yaml, .yml, .json, .csv or .txt"):
        load_batch(odd, DRAFT, Providers(), tmp_path)


def _flow_runs_tagged(prefix: str, home: Path) -> list[str]:
    """The item tags of this test's flow runs (the session's Prefect database holds other tests' batches too)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterTags

    items = FlowRunFilter(tags=FlowRunFilterTags(any_=[f"{prefix}{n}" for n in range(1, 6)]))
    with get_client(sync_client=True) as client:
        runs = [run for run in client.read_flow_runs(flow_run_filter=items, limit=200)
                if str(run.parameters.get("out", "")).startswith(str(home))]
    return [tag for run in runs for tag in run.tags if tag.startswith(prefix)]


@pytest.mark.e2e
def test_five_briefs_one_bad_then_a_rerun_renders_only_what_is_missing(aura_home: Path, tmp_path: Path) -> None:
    from flows.batch import make_batch

    briefs = tmp_path / "briefs.csv"
    briefs.write_text(CSV, encoding="utf-8")
    half = make_batch(briefs_file=str(briefs), render=DRAFT, concurrency=2, max_videos=2)  # stopped half-way
    assert [(i.index, i.status) for i in half.items] == [(1, "rendered"), (2, "rendered")]

    full = make_batch(briefs_file=str(briefs), render=DRAFT, concurrency=2)
    statuses = [(i.index, i.status) for i in full.items]
    assert statuses == [(1, "done earlier"), (2, "done earlier"), (3, "invalid"), (4, "rendered"), (5, "rendered")]
    assert full.failed == 1
    assert full.items[2].message.startswith("brief 3: duration: Input should be greater than or equal to 10")
    for item in full.items:
        assert Path(item.out).is_file() == item.ok
    rendered = [i.video for i in (*half.items, *full.items) if i.video is not None]
    assert len(rendered) == 4 and all(v.duration > 5 and v.height == 360 for v in rendered)
    assert {row["status"] for row in full.rows()} >= {"rendered", "done earlier"}
    # one flow run per rendered brief, found by its tag
    assert sorted(_flow_runs_tagged("aura-batch-item-", aura_home)) == sorted(
        ["aura-batch-item-1", "aura-batch-item-2", "aura-batch-item-4", "aura-batch-item-5"])

    # the CLI on the finished batch: one line per video, the table, exit 1 because brief 3 has no video
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value()), "AURA_HOME": str(aura_home)}
    done = subprocess.run([sys.executable, "-m", "studio.cli", "batch", str(briefs), "--resolution", "360p",
                           "--fps", "24", "--quality", "draft", "--json"],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    summary = json.loads(done.stdout)
    assert [i["status"] for i in summary["items"]] == ["done earlier"] * 2 + ["invalid"] + ["done earlier"] * 2
    assert "4 of 5 videos" in done.stderr and "brief 3: duration" in done.stderr
    assert all(f"  {n} " in done.stderr for n in range(1, 6))  # a line per video
