"""The voice catalogue: which voices each installed engine can speak now, where their files are,
and the check every door (CLI, API, deployment parameters) runs on a voice spec.

A voice is always a name from its engine's own list, never a path (one crashes libespeak-ng);
the one exception is a Piper `.onnx` file named explicitly on the command line.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from providers.errors import ConfigurationError
from providers.registry import parse_spec
from providers.settings import get_settings

__all__ = [
    "KOKORO_DEFAULT_VOICE",
    "VoiceEntry",
    "check_voice",
    "kokoro_dir",
    "kokoro_files",
    "kokoro_language",
    "kokoro_missing",
    "list_voices",
    "piper_dir",
    "piper_files",
    "piper_voices",
]

KOKORO_DEFAULT_VOICE = "af_heart"
_KOKORO_RELEASE = "https://github.com/thewh1teagle/kokoro-onnx/releases/download/model-files-v1.0"
# Kokoro voice names start with a language letter and a gender letter: af_heart, bf_emma, jf_alpha
_KOKORO_LANGUAGES = {"a": "en-us", "b": "en-gb", "e": "es", "f": "fr-fr", "h": "hi", "i": "it", "j": "ja",
                     "p": "pt-br", "z": "cmn"}
_KOKORO_NAME = re.compile(r"^[a-z]{2}_[a-z0-9]+(?:_[a-z0-9]+)*$")
_PIPER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)*$")  # en_US-lessac-medium


class VoiceEntry(BaseModel):
    """One voice an installed engine can speak."""

    model_config = ConfigDict(frozen=True)

    engine: str
    voice: str
    spec: str  # what to pass as --voice
    language: str
    location: str  # the file the voice comes from


def kokoro_dir() -> Path:
    """Where Kokoro's model and voices are looked for: AURA_KOKORO_DIR, else <home>/models/kokoro."""
    settings = get_settings()
    return (settings.kokoro_dir or settings.home / "models" / "kokoro").expanduser()


def piper_dir() -> Path:
    """Where Piper voices are looked for: AURA_PIPER_VOICES, else <home>/models/piper."""
    settings = get_settings()
    return (settings.piper_voices or settings.home / "models" / "piper").expanduser()


def kokoro_missing(folder: Path) -> ConfigurationError:
    """The one-line error for a folder without Kokoro's files."""
    return ConfigurationError(
        f"Kokoro model not found: put kokoro-v1.0.onnx (or kokoro-v1.0.int8.onnx) and voices-v1.0.bin in {folder} "
        f"(or set AURA_KOKORO_DIR); on a machine with internet: curl -L --create-dirs -o {folder}/kokoro-v1.0.onnx "
        f"{_KOKORO_RELEASE}/kokoro-v1.0.onnx && curl -L -o {folder}/voices-v1.0.bin {_KOKORO_RELEASE}/voices-v1.0.bin"
    )


def _npz_names(path: Path) -> list[str]:
    """The voice names in a voices file (an .npz archive), read from its index without loading it."""
    try:
        with zipfile.ZipFile(path) as archive:
            return sorted(n.removesuffix(".npy") for n in archive.namelist() if n.endswith(".npy"))
    except (OSError, zipfile.BadZipFile):
        return []


def kokoro_files(folder: Path | None = None) -> tuple[Path, dict[str, Path]] | None:
    """Kokoro's model file and {voice: voices file} in `folder`, or None when either is missing."""
    folder = folder or kokoro_dir()
    if not folder.is_dir():
        return None
    models = sorted(folder.glob("*.onnx"), key=lambda p: (not p.name.startswith("kokoro"), "int8" in p.name, p.name))
    voices: dict[str, Path] = {}
    for path in sorted([*folder.glob("voices*.bin"), *folder.glob("voices*.npz")]):
        for name in _npz_names(path):
            voices.setdefault(name, path)
    if not models or not voices:
        return None
    return models[0], voices


def kokoro_language(voice: str) -> str:
    """The language a Kokoro voice was made for, from its first letter."""
    return _KOKORO_LANGUAGES.get(voice[:1], "en-us")


def piper_files(name: str, folder: Path | None = None) -> tuple[Path, Path] | None:
    """The (model, config) files of Piper voice `name` in `folder`, or None."""
    folder = folder or piper_dir()
    model = folder / f"{name}.onnx"
    config = folder / f"{name}.onnx.json"
    return (model, config) if model.is_file() and config.is_file() else None


def piper_voices(folder: Path | None = None) -> dict[str, Path]:
    """{voice name: model file} of the Piper voices in `folder`."""
    folder = folder or piper_dir()
    if not folder.is_dir():
        return {}
    return {p.name.removesuffix(".onnx"): p for p in sorted(folder.glob("*.onnx"))
            if p.with_name(p.name + ".json").is_file()}


def _piper_language(model: Path) -> str:
    try:
        config = json.loads(model.with_name(model.name + ".json").read_text(encoding="utf-8"))
        return str(config.get("language", {}).get("code") or config.get("espeak", {}).get("voice", ""))
    except (OSError, ValueError, AttributeError):
        return ""


def list_voices(engine: str | None = None) -> list[VoiceEntry]:
    """The voices each installed engine can speak now (espeak's, Kokoro's, Piper's), or one engine's."""
    out: list[VoiceEntry] = []
    if engine in (None, "espeak"):
        from providers.tts.espeak import espeak_voices

        for v in espeak_voices():
            if v.languages:
                out.append(VoiceEntry(engine="espeak", voice=v.languages[0], spec=f"espeak:{v.languages[0]}",
                                      language=v.languages[0], location=str(v.path)))
    if engine in (None, "kokoro"):
        found = kokoro_files()
        if found:
            _, voices = found
            out += [VoiceEntry(engine="kokoro", voice=name, spec=f"kokoro:{name}", language=kokoro_language(name),
                               location=str(path)) for name, path in sorted(voices.items())]
    if engine in (None, "piper"):
        out += [VoiceEntry(engine="piper", voice=name, spec=f"piper:{name}", language=_piper_language(path),
                           location=str(path)) for name, path in piper_voices().items()]
    return out


def _refuse(engine: str, voice: str, hint: str) -> ConfigurationError:
    return ConfigurationError(f"{engine} has no voice {voice!r}: {hint} (list them with `aura voices`)")


def check_voice(spec: str, *, allow_paths: bool = False) -> None:
    """Refuse a voice spec whose voice is not in its engine's list, with one line saying how to list them.

    `allow_paths` lets a Piper spec name an existing `.onnx` file (the CLI only).
    Other vendors' voices (hosted services) are theirs to check.
    """
    vendor, voice = parse_spec(spec)
    if vendor in ("local", "espeak"):
        if voice:
            from providers.tts.espeak import voice_name

            voice_name(voice)
    elif vendor == "kokoro":
        name = voice or KOKORO_DEFAULT_VOICE
        if not _KOKORO_NAME.match(name):
            raise _refuse("Kokoro", name, "a voice is a name such as af_heart or bf_emma")
        found = kokoro_files()
        if found is None:
            raise kokoro_missing(kokoro_dir())
        if name not in found[1]:
            raise _refuse("Kokoro", name, f"installed: {', '.join(sorted(found[1])[:12])}")
    elif vendor == "piper":
        if allow_paths and voice.endswith(".onnx") and Path(voice).expanduser().is_file():
            return
        if not voice or not _PIPER_NAME.match(voice):
            raise _refuse("Piper", voice, "a voice is a name such as en_US-lessac-medium")
        if piper_files(voice) is None:
            raise piper_missing(voice, piper_dir())


def piper_missing(name: str, folder: Path) -> ConfigurationError:
    """The one-line error for a Piper voice whose files are not in `folder`."""
    return ConfigurationError(
        f"Piper voice {name!r} not found: put {name}.onnx and {name}.onnx.json in {folder} (or set AURA_PIPER_VOICES); "
        f"on a machine with internet: python -m piper.download_voices {name} --download-dir {folder}"
    )
