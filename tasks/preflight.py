"""Pure preflight checks: can the output be written, does the machine have what a run needs, and are the
chosen providers usable (key set, extra installed, voice known) — all answered in milliseconds, before
any Prefect server or SDK is started, so that a front door can refuse with one line (CLI exit 2, API 4xx).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import psutil

from providers.errors import ConfigurationError
from providers.media.process import ffmpeg_exe
from providers.registry import ProviderSpec, missing_dependency
from providers.settings import Settings
from tasks.schemas import Brief, Preflight, RenderSpec
from tasks.scratch import scratch_bytes

__all__ = [
    "BriefError", "check_free_space", "check_home", "check_key", "check_machine", "check_output_folder",
    "check_output_path", "check_provider", "check_voice", "scratch_bytes",
]


class BriefError(ValueError):
    """The brief or the requested output cannot be used; the message says what to fix."""


# vendor -> (settings field, variable to set, whether a Prefect Secret block may hold it instead)
_NEEDS: dict[str, tuple[str, str, bool]] = {
    "openai": ("openai_api_key", "OPENAI_API_KEY", True),
    "elevenlabs": ("elevenlabs_api_key", "ELEVENLABS_API_KEY", True),
    "openai-compat": ("llm_base_url", "AURA_LLM_BASE_URL", False),
    "pexels": ("pexels_api_key", "PEXELS_API_KEY", True),
    "pexels-photos": ("pexels_api_key", "PEXELS_API_KEY", True),
    "pixabay": ("pixabay_api_key", "PIXABAY_API_KEY", True),
    "pixabay-photos": ("pixabay_api_key", "PIXABAY_API_KEY", True),
}

def check_output_path(out: str | os.PathLike[str]) -> Path:
    """The absolute output path, after checking that an MP4 can be written there (nothing is created)."""
    path = Path(out).expanduser()
    if path.suffix.lower() != ".mp4":
        raise BriefError(f"the output must be an .mp4 file, not {path.name!r}")
    if path.is_dir():
        raise BriefError(f"the output {path} is a folder: give a file name ending in .mp4")
    parent = path.parent.resolve()
    existing = parent
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise BriefError(f"cannot write the output: {existing} is not a writable folder")
    if path.exists() and not os.access(path, os.W_OK):
        raise BriefError(f"cannot overwrite {path}: it is read-only")
    return parent / path.name


def check_output_folder(out: str | os.PathLike[str], create: bool) -> Path:
    """`check_output_path`, and the folder must exist unless `create` asks for it to be made by the run."""
    target = check_output_path(out)
    if not create and not target.parent.is_dir():
        raise BriefError(f"the folder {target.parent} does not exist: create it, or ask for it with --mkdir")
    return target


def _existing(folder: Path) -> Path:
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def check_free_space(brief: Brief, render: RenderSpec, run_root: Path, out: Path | None) -> None:
    """Refuse a job whose run folder (scratch) and output folder (the video) would not fit on their disks."""
    scratch = scratch_bytes(brief, render)  # the run folder's peak, the finished video included
    needs: dict[Path, int] = {}
    where = _existing(run_root.expanduser())
    needs[where] = scratch
    if out is not None:
        target = _existing(out.parent)
        if target.stat().st_dev != where.stat().st_dev:  # the video is copied to another disk: it needs room there
            needs[target] = scratch // 4  # the finished video is under a quarter of the peak (tasks/scratch.py)
    for folder, need in needs.items():
        free = shutil.disk_usage(folder).free
        if free < need:
            raise BriefError(
                f"only {free / 1e9:.2f} GB free in {folder}; a {brief.duration:g} s video needs about "
                f"{need / 1e9:.2f} GB there: free space or choose another folder (AURA_HOME, --out)"
            )


def check_home(home: Path) -> None:
    """Refuse an AURA_HOME that is not a folder Aura can create or write."""
    home = home.expanduser()
    if home.exists() and not home.is_dir():
        raise BriefError(f"{home} is a file, not a folder: point AURA_HOME at a folder")
    existing = _existing(home)
    if not existing.is_dir():
        raise BriefError(f"{existing} is a file, not a folder: point AURA_HOME at a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise BriefError(f"{existing} is not writable: point AURA_HOME at a folder you can write")


def check_key(spec: ProviderSpec, settings: Settings) -> None:
    """Refuse a provider whose key (or base URL) is not set, naming the variable to set."""
    need = _NEEDS.get(spec.vendor)
    if need is None:
        return
    field, variable, block_ok = need
    value = getattr(settings, field)
    text = value.get_secret_value() if hasattr(value, "get_secret_value") else value
    if text or (block_ok and settings.secret_blocks):  # a Secret block is looked up by the run itself
        return
    raise BriefError(f"{spec} needs {variable}: set it in the environment or in .env")


def check_voice(spec: ProviderSpec, allow_paths: bool = False, language: str | None = None) -> None:
    """Refuse a voice its engine does not have (names from the engine's own list, never paths).

    `allow_paths` lets a local engine take a voice file named explicitly (the CLI only, never the API).
    `language`: the brief's language, which picks espeak's voice when the spec names none.
    """
    from providers.tts.voices import check_voice as engine_check

    chosen = str(spec)
    if spec.vendor in ("espeak", "local") and not spec.model and language:
        chosen = f"espeak:{language}"
    try:
        engine_check(chosen, allow_paths=allow_paths)
    except (ConfigurationError, ValueError) as exc:
        raise BriefError(str(exc)) from exc


def check_provider(spec: ProviderSpec, settings: Settings, allow_paths: bool = False) -> None:
    """Everything about one provider that can be known before a run: extra installed, key set, voice known."""
    missing = missing_dependency(spec)
    if missing:
        raise BriefError(missing)
    check_key(spec, settings)
    if spec.capability == "tts":
        check_voice(spec, allow_paths)


def check_machine(folder: Path, min_disk_gb: float, min_memory_mb: int) -> Preflight:
    """Check that ffmpeg runs, that `folder`'s disk has room, and that memory is available."""
    exe = ffmpeg_exe()
    try:
        subprocess.run([exe, "-hide_banner", "-version"], capture_output=True, check=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ConfigurationError(f"ffmpeg does not run ({exe}): reinstall imageio-ffmpeg or set AURA_FFMPEG") from exc
    existing = _existing(folder)
    free_gb = shutil.disk_usage(existing).free / 1e9
    if free_gb < min_disk_gb:
        raise ConfigurationError(
            f"only {free_gb:.2f} GB free in {existing}; Aura needs {min_disk_gb:.1f} GB: "
            "free space or choose another folder"
        )
    available_mb = int(psutil.virtual_memory().available / 2**20)
    if available_mb < min_memory_mb:
        raise ConfigurationError(f"only {available_mb} MB of memory available; Aura needs {min_memory_mb} MB")
    return Preflight(ffmpeg=exe, free_disk_gb=round(free_gb, 2), available_memory_mb=available_mb)
