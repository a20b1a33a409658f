"""The resume pitfalls from DESIGN.md, each tested against real Prefect caching."""

from __future__ import annotations

import os
from pathlib import Path

from prefect import flow, task
from prefect.cache_policies import INPUTS
from prefect.utilities.hashing import hash_objects

from providers.base import ImageRequest, SegmentPlan, VoiceSettings
from tasks.compose import segment_path
from tasks.runtime.caching import OutputsPresent, Stamp, record_outputs, resumable, stamp_path
from tasks.schemas import Brief, Providers, RenderSpec

RUNS: list[str] = []


def _out(inputs: dict) -> list[Path]:
    return [Path(inputs["folder"]) / f"{inputs['name']}.txt"]


@task(cache_policy=resumable(_out), persist_result=True)
def write_file(folder: str, name: str, text: str) -> Path:
    RUNS.append(name)
    path = Path(folder) / f"{name}.txt"
    path.write_text(text)
    return path


@flow
def two_writes(folder: str, text: str) -> list[Path]:
    return [write_file(folder, "a", text), write_file(folder, "b", text)]


def test_new_run_resumes_from_cache(tmp_path: Path) -> None:
    """No RUN_ID in the policy: a second flow run (new run id) is served from the first's results."""
    RUNS.clear()
    two_writes(str(tmp_path), "hello")
    two_writes(str(tmp_path), "hello")
    assert RUNS == ["a", "b"]


def test_deleted_output_is_recomputed_not_returned(tmp_path: Path) -> None:
    RUNS.clear()
    two_writes(str(tmp_path), "x")
    (tmp_path / "b.txt").unlink()
    paths = two_writes(str(tmp_path), "x")
    assert RUNS == ["a", "b", "b"]
    assert all(p.is_file() for p in paths)
    # and once recomputed, it is cached again
    two_writes(str(tmp_path), "x")
    assert RUNS == ["a", "b", "b"]


def test_stamp_is_kept_beside_the_output(tmp_path: Path) -> None:
    two_writes(str(tmp_path), "y")
    assert stamp_path(tmp_path / "a.txt").is_file()


STAMPED: list[str] = []


@task(cache_policy=resumable(_out, stamps=lambda inputs: Path(inputs["stamps"])), persist_result=True)
def write_elsewhere(folder: str, name: str, stamps: str) -> Path:
    STAMPED.append(name)
    path = Path(folder) / f"{name}.txt"
    path.write_text(name)
    return path


@flow
def write_to_user_folder(folder: str, stamps: str) -> Path:
    return write_elsewhere(folder, "video", stamps)


def test_stamps_can_live_in_a_folder_of_their_own(tmp_path: Path) -> None:
    """The user's folder gets the output only; a deleted output is still a cache miss."""
    user, run = tmp_path / "user", tmp_path / "run" / "stamps"
    user.mkdir()
    STAMPED.clear()
    write_to_user_folder(str(user), str(run))
    write_to_user_folder(str(user), str(run))
    assert STAMPED == ["video"]
    assert [p.name for p in user.iterdir()] == ["video.txt"]
    assert stamp_path(user / "video.txt", run).is_file()
    (user / "video.txt").unlink()
    write_to_user_folder(str(user), str(run))
    assert STAMPED == ["video", "video"] and (user / "video.txt").is_file()


def test_job_key_separates_identical_scene_text(tmp_path: Path) -> None:
    """Two jobs with the same scene text write to different run folders, so they never share entries."""
    RUNS.clear()
    for job in ("job1", "job2"):
        (tmp_path / job).mkdir()
        two_writes(str(tmp_path / job), "same")
    assert RUNS == ["a", "b", "a", "b"]


def test_path_inputs_hash_by_name_so_digests_are_part_of_segment_keys(tmp_path: Path) -> None:
    """An edited image at the same path must give a new segment: the digest, not the path, decides."""
    image = tmp_path / "scene.png"
    plan = SegmentPlan(image=image, duration=1.0, width=64, height=36, fps=24)
    assert hash_objects(plan) == hash_objects(SegmentPlan(image=image, duration=1.0, width=64, height=36, fps=24))
    before = segment_path(str(tmp_path), 0, plan, ("digest-1", ""), "ffmpeg")
    after = segment_path(str(tmp_path), 0, plan, ("digest-2", ""), "ffmpeg")
    assert before != after


def test_task_inputs_are_hashable_values() -> None:
    """Clients, locks or models as inputs would silently disable caching: ours are all plain values."""
    inputs = {
        "brief": Brief(topic="x"), "render": RenderSpec(), "providers": Providers(), "voice": VoiceSettings(),
        "request": ImageRequest(prompt="p", title="t", width=64, height=64), "run_dir": "/tmp/run", "index": 3,
    }
    assert INPUTS.compute_key(task_ctx=None, inputs=inputs, flow_parameters={}) is not None  # type: ignore[arg-type]


VERIFIED: list[str] = []


@task(cache_policy=resumable(_out, stamps=lambda inputs: Path(inputs["stamps"]), verified=True),
      persist_result=True)
def write_verified(folder: str, name: str, stamps: str) -> Path:
    VERIFIED.append(name)
    path = Path(folder) / f"{name}.txt"
    staged = Path(stamps).parent / f".{name}.staged"
    staged.parent.mkdir(parents=True, exist_ok=True)
    staged.write_text(f"made by {name}")
    record_outputs([(path, staged)], Path(stamps))  # recorded before the file appears at its place
    path.parent.mkdir(parents=True, exist_ok=True)
    staged.replace(path)
    return path


@flow
def verified_write(folder: str, stamps: str) -> Path:
    return write_verified(folder, "video", stamps)


def test_a_cached_file_must_still_be_the_file_that_was_made(tmp_path: Path) -> None:
    """Defect 13.1: a replaced or truncated output is a cache miss, however the stamp came to exist."""
    user, stamps = tmp_path / "user", tmp_path / "run" / "stamps"
    video = user / "video.txt"
    VERIFIED.clear()
    verified_write(str(user), str(stamps))
    verified_write(str(user), str(stamps))
    assert VERIFIED == ["video"]  # unchanged: served from cache

    video.write_text("another job's file")  # another job wrote the same path
    verified_write(str(user), str(stamps))
    assert VERIFIED == ["video", "video"] and video.read_text() == "made by video"

    video.write_bytes(b"")  # truncated
    verified_write(str(user), str(stamps))
    assert VERIFIED == ["video"] * 3 and video.read_text() == "made by video"

    os.utime(video, ns=(1, 1))  # touched (or copied back) with the same content: still the file that was made
    verified_write(str(user), str(stamps))
    assert VERIFIED == ["video"] * 3


def test_a_verified_policy_trusts_no_file_without_a_record(tmp_path: Path) -> None:
    """A token-only stamp (an earlier version, or a crash before the record) does not vouch for a file."""
    user, stamps = tmp_path / "user", tmp_path / "run" / "stamps"
    user.mkdir()
    video = user / "video.txt"
    video.write_text("someone's file")
    stamps.mkdir(parents=True)
    stamp_path(video, stamps).write_text("0123456789abcdef")
    policy = OutputsPresent(outputs=_out, stamps=lambda inputs: Path(inputs["stamps"]), verified=True)
    inputs = {"folder": str(user), "name": "video", "stamps": str(stamps)}
    first = policy.compute_key(None, inputs, {})  # type: ignore[arg-type]
    assert Stamp.read(stamp_path(video, stamps)) != Stamp(token="0123456789abcdef")
    assert policy.compute_key(None, inputs, {}) != first  # type: ignore[arg-type]


def test_an_upgraded_writer_is_not_served_from_the_cache(monkeypatch) -> None:
    """TASK_SOURCE sees only the task: the writer's own code is part of the script's key, so an upgrade re-writes."""
    from tasks.runtime import caching
    from tasks.script import write_script

    @flow
    def script_states(brief: Brief) -> list[str]:
        return [write_script(brief, "local", return_state=True).name for _ in range(2)]

    brief = Brief(topic="An upgraded writer renews its scripts", duration=10)
    first = script_states(brief)
    assert first[1] == "Cached"
    monkeypatch.setattr(caching, "provider_code_digest", lambda capability: "another version of the writer")
    assert script_states(brief)[0] == "Completed"
