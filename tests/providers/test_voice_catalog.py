"""The voice catalogue and the voice check every door runs (issue 11; issue 13 defect 2)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from providers.errors import ConfigurationError
from providers.settings import get_settings
from providers.tts.voices import check_voice, list_voices
from tests.providers.voice_models import KOKORO_VOICE, PIPER_VOICE, kokoro_folder, piper_folder

# names that crashed libespeak-ng (segfault) or told a client whether a folder exists
CRASHERS = [".", "..", "../lang", "../../../../root", "gmw/en", "/", "en/../../x", "./en", "nope-folder/x", "en+../x"]


@pytest.fixture
def engines_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path_factory.getbasetemp() / "catalog-models"
    monkeypatch.setenv("AURA_KOKORO_DIR", str(kokoro_folder(root)))
    monkeypatch.setenv("AURA_PIPER_VOICES", str(piper_folder(root)))
    get_settings.cache_clear()
    yield root
    get_settings.cache_clear()


def test_espeak_voices_come_from_its_own_list_with_their_files() -> None:
    voices = list_voices("espeak")
    assert len(voices) > 50
    specs = {v.spec for v in voices}
    assert {"espeak:en-us", "espeak:de", "espeak:fr-fr"} <= specs
    assert all(Path(v.location).is_file() for v in voices)


def test_installed_kokoro_and_piper_voices_are_listed_with_language_and_file(engines_home: Path) -> None:
    by_spec = {v.spec: v for v in list_voices()}
    kokoro, piper = by_spec[f"kokoro:{KOKORO_VOICE}"], by_spec[f"piper:{PIPER_VOICE}"]
    assert (kokoro.engine, kokoro.language) == ("kokoro", "ja") and Path(kokoro.location).is_file()
    assert (piper.engine, piper.language) == ("piper", "en_US") and piper.location.endswith(f"{PIPER_VOICE}.onnx")
    assert "espeak:en-gb" in by_spec


def test_nothing_is_listed_for_an_engine_without_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AURA_KOKORO_DIR", str(tmp_path / "k"))
    monkeypatch.setenv("AURA_PIPER_VOICES", str(tmp_path / "p"))
    get_settings.cache_clear()
    try:
        assert list_voices("kokoro") == [] and list_voices("piper") == []
    finally:
        get_settings.cache_clear()


def test_check_voice_accepts_listed_names(engines_home: Path) -> None:
    for spec in ("local", "espeak", "espeak:en", "espeak:en-us", "espeak:EN-GB", "espeak:en+f3",
                 f"kokoro:{KOKORO_VOICE}", f"piper:{PIPER_VOICE}", "elevenlabs:21m00Tcm4TlvDq8ikWAM"):
        check_voice(spec)


@pytest.mark.parametrize("spec", [f"espeak:{n}" for n in CRASHERS] + [f"local:{n}" for n in CRASHERS[:3]]
                         + ["kokoro:../x", "kokoro:.", "piper:..", "piper:../piper/en_US-joe-medium",
                            "piper:/etc/passwd.onnx", "espeak:xx-nope"])
def test_check_voice_refuses_anything_else_in_one_line(spec: str, engines_home: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        check_voice(spec)
    assert "\n" not in str(caught.value)
    assert "aura voices" in str(caught.value) or "not found" in str(caught.value)


def test_a_piper_path_is_accepted_only_where_paths_are_allowed(engines_home: Path) -> None:
    path = str(engines_home / "piper" / f"{PIPER_VOICE}.onnx")
    check_voice(f"piper:{path}", allow_paths=True)
    with pytest.raises(ConfigurationError):
        check_voice(f"piper:{path}")


def test_the_names_that_crashed_libespeak_ng_never_reach_it() -> None:
    """In a child process, so that a segfault shows as a failed test rather than a dead test run."""
    script = textwrap.dedent("""
        import json, sys
        from pathlib import Path
        from providers.base import VoiceSettings
        from providers.errors import ConfigurationError
        from providers.registry import resolve
        from providers.tts.espeak import EspeakVoice
        out = Path(sys.argv[1])
        results = {}
        for name in json.loads(sys.argv[2]):
            for door, call in (
                ("spec", lambda: resolve("tts", "espeak:" + name)),
                ("settings", lambda: EspeakVoice().synthesize("hello", out / "a.wav", VoiceSettings(voice=name))),
                ("language", lambda: EspeakVoice().synthesize("hello", out / "b.wav", VoiceSettings(language=name))),
            ):
                try:
                    call()
                    results[door + ":" + name] = "spoke"
                except ConfigurationError as exc:
                    results[door + ":" + name] = "refused" if "aura voices" in str(exc) else str(exc)
        # the engine still works afterwards
        EspeakVoice().synthesize("still here", out / "c.wav", VoiceSettings())
        print(json.dumps(results))
    """)
    with pytest.MonkeyPatch.context():
        import tempfile

        with tempfile.TemporaryDirectory() as out:
            done = subprocess.run([sys.executable, "-c", script, out, json.dumps(CRASHERS)], capture_output=True,
                                  text=True, timeout=300, cwd=Path(__file__).resolve().parents[2])
            assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
            results = json.loads(done.stdout.strip().splitlines()[-1])
            assert set(results.values()) == {"refused"}, results
            assert sorted(p.name for p in Path(out).iterdir()) == ["c.wav"]
