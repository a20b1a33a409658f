"""The web page in a real headless browser (Debian's chromium driven by Playwright): form → live bar → video.

Skips when Playwright or /usr/bin/chromium is missing (tests/setup_and_run.sh installs both).
Screenshots are written to the test's tmp folder; their paths are printed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CHROMIUM = os.environ.get("AURA_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@contextmanager
def live_api(home: Path, deployment: str, **overrides: Any) -> Iterator[str]:
    from providers.settings import get_settings
    from studio.api import ApiSettings, create_app
    from tests.studio.served import running_server

    values = {"deployment": deployment, "heartbeat_seconds": 1, **overrides}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AURA_HOME", str(home))
        get_settings.cache_clear()
        app = create_app(ApiSettings(**values))
        try:
            with running_server(app) as base:
                yield base
        finally:
            get_settings.cache_clear()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists() and not shutil.which(CHROMIUM):
        pytest.skip(f"no chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_api.sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=FLAGS,
            viewport={"width": 1100, "height": 1000},
        )
        try:
            yield context
        finally:
            context.close()


def wait_until(page: Any, expression: str, timeout: float) -> None:
    """Poll `expression` in the page until it is truthy (wait_for_function needs eval, which the page's CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(f"() => Boolean({expression})"):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {expression}")
        time.sleep(0.05)


def test_form_progress_bar_and_video_in_a_real_browser(browser: Any, tmp_path: Path, job_runner: str) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with live_api(tmp_path / "home", job_runner) as base:
        page = browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error" else None)
        streams: list[str] = []
        ranges: list[str] = []
        page.on("request", lambda req: streams.append(req.url) if req.resource_type == "eventsource" else None)
        page.on("request", lambda req: ranges.append(req.headers.get("range", ""))
                if "/download" in req.url else None)

        page.goto(base)
        codecs = page.evaluate("""() => {
            const v = document.createElement('video');
            return {h264: v.canPlayType('video/mp4; codecs="avc1.42E01E"'),
                    h264aac: v.canPlayType('video/mp4; codecs="avc1.64001E, mp4a.40.2"')};
        }""")
        print(f"chromium canPlayType: {codecs}")
        page.screenshot(path=str(shots / "0-form.png"), full_page=True)

        page.fill("#brief", "How honeybees communicate")
        page.select_option("#duration", "10")
        page.select_option("#resolution", "360p")
        page.select_option("#fps", "24")
        page.fill("#audience", "curious teenagers")
        page.evaluate("""() => {
            window.__bar = [];
            const bar = document.querySelector('#bar');
            new MutationObserver(() => window.__bar.push(Number(bar.getAttribute('aria-valuenow'))))
                .observe(bar, {attributes: true, attributeFilter: ['aria-valuenow']});
        }""")
        page.click("#submit")

        wait_until(page, "Number(document.querySelector('#bar').getAttribute('aria-valuenow')) > 0", 120)
        page.screenshot(path=str(shots / "1-progress.png"), full_page=True)
        wait_until(page, "document.querySelector('#job').dataset.status === 'done'", 240)
        page.screenshot(path=str(shots / "2-done.png"), full_page=True)

        seen = page.evaluate("window.__bar")
        print(f"progress bar values seen: {seen}")
        assert seen == sorted(seen), "the bar went backwards"
        assert seen[-1] == 100 and page.inner_text("#pct") == "100 %"
        assert len(set(seen)) >= 3, "the bar jumped straight to the end: no live progress seen"
        assert any("/stream" in url for url in streams), "no EventSource request was made"
        assert page.get_attribute("#job", "data-status") == "done"

        # the video element plays, and seeking works (the browser fetches byte ranges)
        wait_until(page, "document.querySelector('#player').readyState >= 2", 60)
        info = page.evaluate("""async () => {
            const v = document.querySelector('#player');
            v.muted = true;
            await v.play();
            return {width: v.videoWidth, height: v.videoHeight, duration: v.duration};
        }""")
        print(f"video element: {info}")
        assert (info["width"], info["height"]) == (640, 360)
        assert 8 <= info["duration"] <= 20
        wait_until(page, "document.querySelector('#player').currentTime > 1.0", 30)
        page.evaluate("""() => new Promise((resolve) => {
            const v = document.querySelector('#player');
            v.addEventListener('seeked', resolve, {once: true});
            v.currentTime = v.duration - 2;
        })""")
        wait_until(page, "!document.querySelector('#player').paused || document.querySelector('#player').ended", 10)
        page.screenshot(path=str(shots / "3-playing.png"), full_page=True)
        print(f"video requests' Range headers: {ranges}")
        assert any(r.startswith("bytes=") for r in ranges), "the browser never asked for a byte range"

        # the recent list shows the job, with its link
        page.click("#refresh")
        page.wait_for_selector("#recent li .badge.done", timeout=10_000)
        assert "How honeybees communicate" in page.inner_text("#recent")
        status = httpx.get(f"{base}/api/videos").json()["jobs"][0]
        assert status["status"] == "done"
        assert not problems, problems
    print(f"screenshots in {shots}: {sorted(p.name for p in shots.iterdir())}")
