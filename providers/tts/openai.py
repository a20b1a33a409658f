"""TTS provider `openai:<tts-model>`: OpenAI speech (tts-1, tts-1-hd, gpt-4o-mini-tts) to MP3.

OpenAI's speech endpoint returns no timings, so word timings are estimated: the measured duration
is shared out over the words by their character counts, with a little extra after punctuation,
and the result is marked `timings_estimated`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import openai

from providers.base import Speech, VoiceSettings, WordTiming
from providers.errors import BadRequestError
from providers.media.files import atomic_path
from providers.media.streams import vendor_audio_duration
from providers.remote.secrets import get_secret
from providers.remote.vendor_errors import cause, from_openai
from providers.settings import get_settings

__all__ = ["OpenAIVoice", "estimate_words"]

DEFAULT_MODEL = "gpt-4o-mini-tts"
_PAUSE_WEIGHT = {",": 2.0, ";": 3.0, ":": 3.0, ".": 5.0, "!": 5.0, "?": 5.0}


def estimate_words(text: str, duration: float, lead: float = 0.05) -> tuple[WordTiming, ...]:
    """Word timings spread over `duration` seconds in proportion to each word's characters."""
    tokens = re.findall(r"\S+", text)
    if not tokens:
        return ()
    weights = [len(t) + 1 + _PAUSE_WEIGHT.get(t[-1], 0.0) for t in tokens]
    lead = min(lead, duration / 10)
    scale = max(0.0, duration - 2 * lead) / sum(weights)
    words, at = [], lead
    for token, weight in zip(tokens, weights, strict=True):
        spoken = (len(token) + 1) * scale
        words.append(WordTiming(word=token, start=round(at, 3), end=round(min(duration, at + spoken), 3)))
        at += weight * scale
    return tuple(words)


class OpenAIVoice:
    """TTS provider `openai:<tts-model>`; the voice comes from the run or AURA_OPENAI_TTS_VOICE."""

    def __init__(self, model: str = "", *, base_url: str | None = None, api_key: str | None = None,
                 **_: Any) -> None:
        settings = get_settings()
        self.model = model or DEFAULT_MODEL
        self._key = api_key or get_secret(settings.openai_api_key, "OPENAI_API_KEY", "openai-api-key",
                                          "the OpenAI API key")
        self.default_voice = settings.openai_tts_voice
        self.client = openai.OpenAI(api_key=self._key, base_url=base_url or settings.openai_base_url,
                                    timeout=settings.tts_timeout, max_retries=settings.vendor_max_retries)

    def synthesize(self, text: str, out_path: Path, settings: VoiceSettings) -> Speech:
        """Speak `text` into an MP3 at `out_path`; timings are estimated from character counts."""
        if not text.strip():
            raise BadRequestError("nothing to say: the narration text is empty")
        options: dict[str, Any] = {}
        speed = max(0.25, min(4.0, settings.words_per_minute / 150))
        if self.model.startswith("tts-1"):
            options["speed"] = round(speed, 2)
        else:  # gpt-4o-*-tts ignores speed but follows instructions
            options["instructions"] = (
                f"Speak in the language with code '{settings.language}', clearly, at about "
                f"{settings.words_per_minute} words per minute."
            )
        try:
            with atomic_path(out_path) as tmp:
                with self.client.audio.speech.with_streaming_response.create(
                    model=self.model, voice=settings.voice or self.default_voice, input=text,
                    response_format="mp3", **options,
                ) as response:
                    response.stream_to_file(tmp)
                duration = vendor_audio_duration(tmp, "OpenAI")
        except openai.OpenAIError as exc:
            error = from_openai(exc, secrets=(self._key,))
            raise error from cause(error, exc)
        return Speech(audio_path=out_path, duration=duration, words=estimate_words(text, duration),
                      timings_estimated=True, characters=len(text))
