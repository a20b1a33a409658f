"""Defect 13.4: a second run of the same job (another process, as on a second Prefect worker) starting while
the first renders must not sweep the first one's partial files; once the first is gone, they are swept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tasks.runtime.cleanup import sweep_leftovers
from tasks.runtime.joblock import claim_job, release_job

FIRST_RUN = """
import sys
from pathlib import Path
from tasks.runtime.joblock import claim_job
run = Path(sys.argv[1])
claim_job(run, "first-run").share()  # what a flow run's start-up sweep holds until the run ends
partial = run / "segments" / ".scene-000-abc.1234abcd.partial.mp4"
partial.parent.mkdir(parents=True, exist_ok=True)
partial.write_bytes(b"half a segment")
print("rendering", flush=True)
sys.stdin.read()  # until the test lets it end
"""


def test_a_second_run_of_the_job_keeps_the_first_runs_partial_files(tmp_path: Path) -> None:
    run, out = tmp_path / "runs" / "job", tmp_path / "videos" / "v.mp4"
    first = subprocess.Popen([sys.executable, "-c", FIRST_RUN, str(run), str(out)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert first.stdout is not None and first.stdout.readline().strip() == "rendering"
        partial = run / "segments" / ".scene-000-abc.1234abcd.partial.mp4"

        assert sweep_leftovers.fn(str(run), str(out)) == 0  # the second run starts beside the first
        assert partial.read_bytes() == b"half a segment"
    finally:
        assert first.stdin is not None
        first.stdin.close()
        first.wait(timeout=60)

    # the first run died without cleaning up (as under SIGKILL): the next start sweeps its leftovers
    assert sweep_leftovers.fn(str(run), str(out)) == 1
    assert not partial.exists()


def test_runs_in_one_process_see_each_other_and_release_when_they_end(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "job"
    first = claim_job(run, "flow-run-1")
    assert first.alone
    first.share()
    second = claim_job(run, "flow-run-2")
    assert not second.alone  # the same job in another flow run of this process (a serve runner, a test)
    release_job("flow-run-1")
    release_job("flow-run-2")
    third = claim_job(run, "flow-run-3")
    assert third.alone
    release_job("flow-run-3")
