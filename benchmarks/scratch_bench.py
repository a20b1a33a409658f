"""Disk a run needs: the run folder's peak (sampled while it renders) plus the finished video, per second of video.

Each case renders a short video with the local providers (drawn cards, espeak) through the real flow
under a temporary Prefect server, while a thread samples the size of the run folder and the output
folder every 0.2 s. Printed per case: the video's length, the peak and final bytes, MB per second of
video, the extrapolation to a 30-minute video, and each figure's ratio to the first case (the
reference, 720p at 30 fps, standard quality), all measured in the same invocation.

    python benchmarks/scratch_bench.py                                   # the cases below, ~5 min on 2 busy cores
    python benchmarks/scratch_bench.py 20@720p@30@standard 60@720p@30@standard 20@1080p@60@high
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

CASES = ["20@720p@30@standard", "60@720p@30@standard", "20@360p@24@draft", "20@720p@30@high",
         "20@1080p@30@standard", "20@1080p@60@high"]
THIRTY_MINUTES = 1800.0


def _size(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:  # removed while we looked
            continue
    return total


class Sampler:
    """The largest total size the folders reached while the block ran."""

    def __init__(self, *folders: Path) -> None:
        self.folders, self.peak, self._stop = folders, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, sum(_size(f) for f in self.folders if f.exists()))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, sum(_size(f) for f in self.folders if f.exists()))


def main(cases: list[str]) -> None:
    root = Path(tempfile.mkdtemp(prefix="aura-scratch-bench-"))
    os.environ.update(PREFECT_HOME=str(root / "prefect"), AURA_HOME=str(root / "home"),
                      PREFECT_LOGGING_LEVEL="ERROR", AURA_MAX_WORKERS=os.environ.get("AURA_MAX_WORKERS", "2"))
    from prefect.testing.utilities import prefect_test_harness

    from flows.make_video import make_video
    from tasks.schemas import Brief, RenderSpec

    rows = []
    with prefect_test_harness(server_startup_timeout=180):
        for case in cases:
            seconds, resolution, fps, quality = case.split("@")
            out = root / "videos" / f"{case.replace('@', '-')}.mp4"
            brief = Brief(topic=f"How tides work ({case})", duration=float(seconds))
            render = RenderSpec(resolution=resolution, fps=int(fps), quality=quality)  # type: ignore[arg-type]
            started = time.monotonic()
            with Sampler(root / "home" / "runs", out.parent) as sampler:
                video = make_video(brief=brief, render=render, out=str(out))
            final = _size(root / "home" / "runs" / video.job_key) + out.stat().st_size
            rows.append((case, video.duration, sampler.peak, final, time.monotonic() - started))
            for path in (root / "home" / "runs").iterdir():  # the next case starts from an empty disk
                import shutil

                shutil.rmtree(path)
    ref = rows[0][2] / rows[0][1]
    print(f"\nload {os.getloadavg()[0]:.1f}; drawn cards and espeak; peak = run folder + output folder while it ran")
    print("| case (s@res@fps@quality) | length s | peak MB | final MB | MB per s | × ref | 30 min GB | wall s |")
    print("|---|---|---|---|---|---|---|---|")
    for case, length, peak, final, wall in rows:
        per_second = peak / length
        print(f"| {case} | {length:.1f} | {peak / 1e6:.1f} | {final / 1e6:.1f} | {per_second / 1e6:.3f} | "
              f"{per_second / ref:.2f} | {per_second * THIRTY_MINUTES / 1e9:.2f} | {wall:.0f} |")


if __name__ == "__main__":
    main(sys.argv[1:] or CASES)
