"""The web page's review: the checkbox makes the job wait after its script; the page shows the script as a form,
the edited narration is approved, and the video that comes out speaks the edit. Real chromium, real runner.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.studio.test_web_page import browser, live_api, wait_until  # noqa: F401 - `browser` is a fixture

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


def test_review_form_edit_and_approve_in_a_real_browser(browser: Any, tmp_path: Path,  # noqa: F811
                                                        job_runner: str) -> None:
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with live_api(tmp_path / "home", job_runner) as base:
        page = browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.goto(base + "/")
        page.fill("#brief", "How honeybees communicate")
        page.select_option("#duration", "10")
        page.select_option("#resolution", "360p")
        page.check("#review")
        page.click("#submit")
        wait_until(page, "!document.getElementById('review-section').hidden", 240)
        page.screenshot(path=str(shots / "review-form.png"), full_page=True)
        print("screenshot:", shots / "review-form.png")
        assert "$" in page.inner_text("#review-cost")
        narrations = page.locator("#review-scenes textarea")
        assert narrations.count() >= 1
        narrations.first.fill("Bees dance in figure eights to point at flowers.")
        page.click("#approve")
        wait_until(page, "document.getElementById('job').dataset.status === 'done'", 240)
        assert page.locator("#review-section").is_hidden()
        assert page.get_attribute("#download", "href")
        srt = next((tmp_path / "home").rglob("*.srt"))
        captions = srt.read_text(encoding="utf-8")
        assert "figure" in captions and "eights to point" in captions  # the edit is what was spoken
        assert not problems, problems
