"""End to end the Prefect way: server (SQLite), work pools, `prefect deploy --all`, a process worker,
`prefect deployment run ... --watch`, the MP4 and the artifacts through the API, the cache on a second
run, server-side parameter validation, and the Prefect UI in a real headless browser."""

from __future__ import annotations

import base64
import io
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from prefect_stack import REPO, PrefectStack, chromium, output_folder, prepare

from providers.media.streams import probe

pytestmark = pytest.mark.e2e

STAGES = ["brief", "script", "voice", "visuals", "composition"]
STAGE_TASKS = {"validate_brief", "write_script", "synthesize_narration", "generate_scene_image",
               "build_timeline", "render_segment", "finish_video"}
TIMINGS: dict[str, Any] = {}  # seconds, for the report


@pytest.fixture(scope="module")
def stack(stack_factory: Any) -> PrefectStack:
    """Server, pools, every deployment, and one process worker."""
    stack = stack_factory("sqlite-stack")
    TIMINGS["server start"] = stack.start_server()
    started = time.perf_counter()
    prepare(stack)
    TIMINGS["pools + deploy --all"] = time.perf_counter() - started
    stack.start_worker("aura-cpu")
    return stack


@pytest.fixture(scope="module")
def params(stack: PrefectStack) -> dict[str, Any]:
    brief = {"topic": "How honeybees communicate", "duration": 20, "density": "dense"}
    return {"brief": brief, "out": str(stack.root / "videos" / "bees.mp4")}


@pytest.fixture(scope="module")
def first_run(stack: PrefectStack, params: dict[str, Any]) -> dict[str, Any]:
    run, seconds = stack.deploy_smoke_run(params)
    TIMINGS["first smoke run (deployment run --watch)"] = seconds
    TIMINGS["first smoke run, the flow run itself"] = run["total_run_time"]
    return run


@pytest.fixture(scope="module")
def second_run(stack: PrefectStack, params: dict[str, Any], first_run: dict[str, Any]) -> dict[str, Any]:
    run, seconds = stack.deploy_smoke_run(params)
    TIMINGS["second smoke run, from cache"] = seconds
    TIMINGS["second smoke run, the flow run itself"] = run["total_run_time"]
    return run


def test_deploy_all_registers_every_deployment_with_a_pull_step_to_the_clone(stack: PrefectStack) -> None:
    found = stack.post("/deployments/filter", {})
    flows = {f["id"]: f["name"] for f in stack.post("/flows/filter", {})}
    by_name = {f"{flows[d['flow_id']]}/{d['name']}": d for d in found}
    assert set(by_name) == {"make-video/on-demand", "make-video/gpu", "make-video/smoke",
                            "render-next-brief/daily"}
    pull = [{"prefect.deployments.steps.set_working_directory": {"directory": str(REPO)}}]
    for d in by_name.values():
        assert d["pull_steps"] == pull
        assert d["enforce_parameter_schema"] is True
    assert by_name["make-video/gpu"]["work_pool_name"] == "aura-gpu"
    assert by_name["make-video/gpu"]["parameters"]["providers"]["images"].startswith("diffusers:")
    daily = by_name["render-next-brief/daily"]
    assert [s["schedule"]["cron"] for s in daily["schedules"]] == ["0 6 * * *"]
    assert stack.get("/work_pools/aura-gpu")["concurrency_limit"] == 1


def test_invalid_parameters_are_rejected_by_the_server_with_what_to_fix(stack: PrefectStack) -> None:
    bad = stack.cli("deployment", "run", "make-video/smoke", "--param", 'brief={"topic": "x", "duration": 5}')
    assert bad.returncode != 0
    said = " ".join((bad.stdout + bad.stderr).split())
    assert "brief.duration" in said and "less than the minimum of 10" in said, said

    smoke = stack.get("/deployments/name/make-video/smoke")
    response = stack.http.post(f"/deployments/{smoke['id']}/create_flow_run",
                               json={"parameters": {"brief": {"duration": 30}}})
    assert response.status_code == 409
    assert "'topic' is a required property" in response.json()["detail"]
    response = stack.http.post(f"/deployments/{smoke['id']}/create_flow_run",
                               json={"parameters": {"render": {"resolution": "4k"}}})
    assert response.status_code == 409 and "render.resolution" in response.json()["detail"]
    assert stack.post("/flow_runs/filter", {"deployments": {"id": {"any_": [smoke["id"]]}}}) == []


def test_smoke_run_renders_the_mp4_named_after_the_brief(stack: PrefectStack, params: dict[str, Any],
                                                        first_run: dict[str, Any]) -> None:
    assert first_run["state"]["type"] == "COMPLETED"
    assert re.fullmatch(rf"how-honeybees-communicate-{first_run['id'][:8]}", first_run["name"])
    info = probe(Path(params["out"]))
    assert (info.video_codec, info.audio_codec, info.width, info.height) == ("h264", "aac", 640, 360)
    assert info.video_duration > 5


def test_artifacts_show_progress_metrics_storyboard_and_the_video(stack: PrefectStack, params: dict[str, Any],
                                                                 first_run: dict[str, Any]) -> None:
    arts = stack.artifacts(first_run["id"])
    assert {"aura-progress", "aura-metrics", "aura-storyboard", "aura-video"} <= set(arts)
    assert arts["aura-progress"]["type"] == "progress" and arts["aura-progress"]["data"] == 100
    metrics = arts["aura-metrics"]["data"]
    for stage in STAGES:
        row = rf"^\| {stage} \| [\d.]+ \| \d+ \| 0 \| 0 \| \d+ \| \S+ \| 0\.0000 \|"
        assert re.search(row, metrics, re.M), metrics
    storyboard = arts["aura-storyboard"]["data"]
    uri = re.search(r"\]\((data:image/jpeg;base64,[A-Za-z0-9+/=]+)\)", storyboard)
    assert uri, storyboard[:300]
    sheet = Image.open(io.BytesIO(base64.b64decode(uri.group(1).split(",", 1)[1])))
    scenes = len(re.findall(r"^\d+\. \*\*", storyboard, re.M))
    assert scenes >= 3 and sheet.width > 500
    assert str(Path(params["out"]).resolve()) in arts["aura-video"]["data"]  # the path as text: no file:// link


def test_stage_events_follow_the_run_to_100_percent(stack: PrefectStack, first_run: dict[str, Any]) -> None:
    def complete(found: list[dict[str, Any]]) -> bool:
        return any(e["event"] == "aura.stage.finished" and e["payload"]["stage"] == "composition"
                   for e in found)

    events = stack.events_of(first_run["id"], until=complete)
    names = [e["event"] for e in events]
    assert {"aura.stage.started", "aura.stage.progress", "aura.stage.finished"} <= set(names)
    finished = [e["payload"]["stage"] for e in events if e["event"] == "aura.stage.finished"]
    assert sorted(finished) == sorted(STAGES)
    percentages = [e["payload"]["percentage"] for e in sorted(events, key=lambda e: e["occurred"])]
    assert max(percentages) == 100
    first = events[0]
    assert first["resource"]["prefect.resource.id"] == f"aura.run.{first_run['id']}"
    assert first["payload"]["correlation_id"] == first_run["id"][:8]
    roles = {r["prefect.resource.role"]: r["prefect.resource.id"] for r in first["related"]}
    assert roles["flow-run"] == f"prefect.flow-run.{first_run['id']}"
    assert roles["deployment"].startswith("prefect.deployment.")


def test_every_log_line_of_the_run_carries_the_correlation_id(stack: PrefectStack,
                                                             first_run: dict[str, Any]) -> None:
    lines = [log["message"] for log in stack.logs_of(first_run["id"])]
    begin = next(i for i, m in enumerate(lines) if m.startswith("Beginning flow run"))
    # the worker's lines before the flow starts (submission, pull step) and the engine's first two
    # lines come before the run's code does; from then on every line is stamped
    body = [m for m in lines[begin + 1:] if not m.startswith("View at ")]
    assert len(body) >= 10
    unstamped = [m for m in body if not m.startswith(f"[{first_run['id'][:8]}] ")]
    assert not unstamped, unstamped


def test_second_run_is_served_from_cache(stack: PrefectStack, params: dict[str, Any],
                                         first_run: dict[str, Any], second_run: dict[str, Any]) -> None:
    assert second_run["id"] != first_run["id"] and second_run["state"]["type"] == "COMPLETED"
    states = {t["name"]: t["state"]["name"] for t in stack.task_runs(second_run["id"])
              if t["name"].rsplit("-", 1)[0] in STAGE_TASKS}
    assert states and set(states.values()) == {"Cached"}, states
    metrics = stack.artifacts(second_run["id"])["aura-metrics"]["data"]
    assert metrics.count("| cached |") == len(STAGES)
    assert probe(Path(params["out"])).video_duration > 5


def test_cluster_deployment_spreads_scene_work_over_dask(stack: PrefectStack) -> None:
    pytest.importorskip("prefect_dask", reason="the `dask` extra is not installed")
    deployed = stack.cli("--no-prompt", "deploy", "flows/make_video_dask.py:make_video_on_dask", "--name", "cluster",
                         "--pool", "aura-cpu")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    out = stack.root / "videos" / "tides-on-dask.mp4"
    started = time.perf_counter()
    done = stack.cli("deployment", "run", "make-video/cluster", "--watch", "--watch-timeout", "240", "--params",
                     json.dumps({"brief": {"topic": "How tides work", "duration": 12, "density": "dense"},
                                 "render": {"resolution": "360p", "fps": 24, "quality": "draft"}, "out": str(out)}))
    TIMINGS["cluster run on a local Dask cluster"] = time.perf_counter() - started
    assert done.returncode == 0, done.stdout + done.stderr + stack.log("worker-aura-cpu.log")
    run = stack.post("/flow_runs/filter", {"sort": "START_TIME_DESC", "limit": 1,
                                           "deployments": {"name": {"any_": ["cluster"]}}})[0]
    worker_output = (stack.logs / "worker-aura-cpu.log").read_text(errors="replace")
    assert f"[{run['id'][:8]}] The Dask dashboard is available" in worker_output  # the run's own task runner
    assert probe(out).video_duration > 5
    assert stack.artifacts(run["id"])["aura-progress"]["data"] == 100


def test_prefect_ui_shows_the_run_form_and_the_finished_run(stack: PrefectStack, first_run: dict[str, Any],
                                                            tmp_path_factory: pytest.TempPathFactory) -> None:
    browser_path = chromium()
    if browser_path is None:
        pytest.skip("Debian's chromium is not installed (tests/setup_and_run.sh installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    shots = output_folder(tmp_path_factory, "prefect-ui")
    on_demand = stack.get("/deployments/name/make-video/on-demand")
    arts = stack.artifacts(first_run["id"])
    args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, headless=True, args=args)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})

        def field(label: str) -> Any:
            return page.locator(f'.schema-form-property:has(> .p-label__header '
                                f'.schema-form-property__label:text-is("{label}"))')

        # the run form: every field of the brief, render spec and providers, with its description
        page.goto(f"{stack.url}/deployments/deployment/{on_demand['id']}/run", wait_until="networkidle")
        field("Topic").locator("textarea").wait_for()
        page.set_viewport_size({"width": 1400, "height": 4200})
        page.screenshot(path=str(shots / "1-run-form.png"), full_page=True)
        text = page.inner_text("body")
        for label in ("Topic", "Audience (Optional)", "Target duration (s) (Optional)",
                      "Resolution (Optional)", "Images (Optional)",
                      "What the video explains, e.g. 'How honeybees communicate'.",
                      "Frame size: the short side in pixels (360p for quick drafts).",
                      "Where the MP4 goes on the worker; empty puts it under AURA_HOME/videos."):
            assert label in text, label

        # invalid input from the form: the server says what to fix and creates no run
        page.set_viewport_size({"width": 1400, "height": 1000})
        field("Topic").locator("textarea").fill("How tides work")
        duration = field("Target duration (s) (Optional)").locator("input")
        duration.fill("5")
        page.get_by_role("button", name="Submit").click()
        page.get_by_text("less than the minimum of 10").first.wait_for(timeout=15000)
        duration.scroll_into_view_if_needed()
        page.wait_for_timeout(800)  # the toast fades in
        page.screenshot(path=str(shots / "2-run-form-rejected.png"))
        assert "brief.duration" in page.inner_text("body")

        # the finished run's page: its artifacts, then the progress at 100 % and the storyboard
        page.goto(f"{stack.url}/runs/flow-run/{first_run['id']}", wait_until="networkidle")
        page.get_by_text("Artifacts", exact=True).first.click()
        page.get_by_text("aura-storyboard", exact=True).wait_for()
        page.wait_for_timeout(500)
        page.screenshot(path=str(shots / "3-run-artifacts.png"), full_page=True)
        body = page.inner_text("body")
        assert "Completed" in body and first_run["name"] in body
        assert all(key in body for key in ("aura-progress", "aura-metrics", "aura-storyboard", "aura-video"))
        assert "100 %" in body

        page.get_by_text("aura-progress", exact=True).click()
        page.get_by_text("Progress: 100%").wait_for()
        page.wait_for_timeout(800)  # the page fades in
        page.screenshot(path=str(shots / "4-progress-artifact.png"), full_page=True)

        page.goto(f"{stack.url}/artifacts/artifact/{arts['aura-storyboard']['id']}", wait_until="networkidle")
        sheet = page.locator('img[src^="data:image/jpeg;base64,"]')
        sheet.wait_for()
        assert page.evaluate("(img) => img.complete && img.naturalWidth", sheet.element_handle()) > 500
        page.screenshot(path=str(shots / "5-storyboard-artifact.png"), full_page=True)

        page.goto(f"{stack.url}/artifacts/artifact/{arts['aura-metrics']['id']}", wait_until="networkidle")
        page.get_by_text("Peak MB").wait_for()
        page.screenshot(path=str(shots / "6-metrics-artifact.png"), full_page=True)
        browser.close()
    print(f"\nscreenshots: {shots}")
    (shots / "timings.json").write_text(json.dumps(TIMINGS, indent=1))
    print("timings:", json.dumps(TIMINGS, indent=1))
