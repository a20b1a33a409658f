"""make-video with its per-scene work spread over a Dask cluster (`pip install -e '.[dask]'`).

AURA_DASK_ADDRESS names the scheduler (`tcp://host:8786`); without it each run starts a local
cluster. Every Dask worker needs this repository importable, PREFECT_API_URL, and AURA_HOME plus
PREFECT_LOCAL_STORAGE_PATH on storage it shares with the flow's process: tasks exchange file
paths, never media bytes. Scene reports made on Dask workers stay there, so the run's progress
artifact moves stage by stage (deployments/README.md).
"""

from __future__ import annotations

import os

from prefect_dask import DaskTaskRunner

from flows.make_video import make_video

make_video_on_dask = make_video.with_options(
    task_runner=DaskTaskRunner(address=os.environ.get("AURA_DASK_ADDRESS") or None),  # type: ignore[arg-type]
)
