"""Stage 3: narration, one task run per scene, real durations and word timings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import task

from providers.base import VoiceSettings
from providers.media.files import file_digest
from providers.media.streams import audio_duration
from providers.registry import parse_spec
from providers.settings import get_settings
from tasks.naming import content_key, media_path
from tasks.runtime.caching import resumable
from tasks.runtime.fallback import chain_for, with_fallback
from tasks.runtime.profiles import DEFAULT_RETRIES
from tasks.runtime.progress import report
from tasks.runtime.retry import retry_transient
from tasks.schemas import Brief, Narration, WordTiming
from tasks.script import WORDS_PER_MINUTE

__all__ = ["AUDIO_SUFFIX", "narration_path", "synthesize_narration", "voice_settings"]


# the container each voice vendor writes; anything else writes WAV
AUDIO_SUFFIX: dict[str, str] = {"elevenlabs": ".mp3", "openai": ".mp3"}


def narration_path(run_dir: str, index: int, text: str, tts: str, voice: VoiceSettings) -> Path:
    """Where scene `index`'s narration audio goes for these inputs."""
    key = content_key(text, tts, voice.model_dump(mode="json"))
    return media_path(run_dir, "voice", index, key, AUDIO_SUFFIX.get(parse_spec(tts)[0], ".wav"))


def _outputs(inputs: dict[str, Any]) -> list[Path]:
    return [narration_path(inputs["run_dir"], inputs["index"], inputs["text"], inputs["tts"], inputs["voice"])]


def clamp_words(words: tuple[WordTiming, ...], duration: float) -> tuple[WordTiming, ...]:
    """Word timings kept inside the audio's real duration and in order."""
    out: list[WordTiming] = []
    last = 0.0
    for w in words:
        start = min(max(w.start, last), duration)
        end = min(max(w.end, start), duration)
        out.append(WordTiming(word=w.word, start=start, end=end))
        last = start
    return tuple(out)


@task(name="synthesize_narration", cache_policy=resumable(_outputs), persist_result=True,
      retries=DEFAULT_RETRIES, retry_delay_seconds=0, retry_condition_fn=retry_transient)
def synthesize_narration(run_dir: str, index: int, text: str, tts: str, voice: VoiceSettings,
                         total: int = 1) -> Narration:
    """Speak one scene's narration; its duration is measured from the audio itself."""
    chain = chain_for(tts, get_settings().fallbacks("tts"))
    # each voice writes its own file: a fallback's audio never masquerades as the configured voice's
    outcome = with_fallback(
        "tts", chain,
        lambda provider, spec: provider.synthesize(text, narration_path(run_dir, index, text, spec, voice), voice),
    )
    speech = outcome.value
    duration = audio_duration(speech.audio_path)
    report("voice", 1, total, f"scene {index + 1} spoken ({duration:.1f} s)", "item")
    return Narration(
        index=index, audio=speech.audio_path, duration=duration, words=clamp_words(speech.words, duration),
        digest=file_digest(speech.audio_path), timings_estimated=speech.timings_estimated, provider=outcome.spec,
        fallback_reason=outcome.fallback_reason,
    )


def voice_settings(brief: Brief, voice: str | None = None) -> VoiceSettings:
    """Voice settings for a brief: its language and its pacing's speaking rate."""
    return VoiceSettings(voice=voice, language=brief.language, words_per_minute=WORDS_PER_MINUTE[brief.pacing])
