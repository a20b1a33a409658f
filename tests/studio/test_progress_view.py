"""The CLI's bars draw the same fold as the API's stream and the progress artifact."""

from __future__ import annotations

import io

from rich.console import Console

from studio.progress_view import ProgressView
from tasks.runtime.progress import Stage, report


def test_bars_follow_the_folded_reports() -> None:
    out = io.StringIO()
    view = ProgressView(Console(file=out, width=100, force_terminal=False))
    with view:
        report("brief", 0, 1, "brief started", "started")
        report("brief", 1, 1, "brief done", "finished")
        report(Stage.VOICE, 1, 3, "scene 1 spoken", "item")
        report(Stage.VOICE, 1, 3, "scene 2 spoken", "item")
    text = out.getvalue()
    assert view.view.percentage == 5 + round(25 * 2 / 3, 1)
    assert "1/1" in text and "2/3" in text and "scene 2 spoken" in text
    bars = {task.description: task for task in view.bars.tasks}
    assert bars["voice"].completed == 2 and bars["voice"].total == 3 and bars["script"].completed == 0
