"""TTS provider `elevenlabs:<voice id>`: ElevenLabs speech with character timestamps.

`convert_with_timestamps` returns the audio and, for every character of the input, when it is
heard; word timings are the first and last character of each whitespace-separated word. The spec
names a voice id (`elevenlabs:21m00Tcm4TlvDq8ikWAM`) or a model (`elevenlabs:eleven_flash_v2_5`);
the other comes from settings, and a run's `VoiceSettings.voice` overrides the voice.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from elevenlabs import VoiceSettings as ElevenVoiceSettings
from elevenlabs.client import ElevenLabs
from elevenlabs.core import ApiError, ParsingError

from providers.base import Speech, VoiceSettings, WordTiming
from providers.errors import BadRequestError, InvalidOutputError
from providers.media.files import atomic_path
from providers.media.streams import vendor_audio_duration
from providers.remote.secrets import get_secret
from providers.remote.vendor_errors import cause, from_elevenlabs
from providers.settings import get_settings

__all__ = ["ElevenLabsVoice", "words_from_alignment"]

# models that accept `language_code`; others pick the language from the text and refuse the field
_LANGUAGE_MODELS = re.compile(r"v2_5|v3|flash|turbo_v2_5")


def words_from_alignment(text: str, characters: Sequence[str], starts: Sequence[float],
                         ends: Sequence[float]) -> tuple[WordTiming, ...]:
    """Word timings for the words of `text` from per-character times.

    The alignment's characters normally spell `text` exactly; when they do not (the vendor
    normalised it), the words of the alignment are matched to the words of `text` in order.
    """
    spelled = "".join(characters)
    if len(characters) != len(starts) or len(starts) != len(ends) or not characters:
        raise InvalidOutputError("ElevenLabs returned an alignment whose lists do not match")
    aligned = [(m.group(), starts[m.start()], ends[m.end() - 1]) for m in re.finditer(r"\S+", spelled)]
    tokens = re.findall(r"\S+", text)
    if not aligned:
        return ()
    words: list[WordTiming] = []
    for i, token in enumerate(tokens):
        # same spelling: one to one; otherwise spread the text's words over the aligned words
        j = i if len(aligned) == len(tokens) else min(len(aligned) - 1, i * len(aligned) // len(tokens))
        _, start, end = aligned[j]
        if words and start < words[-1].start:
            start = words[-1].start
        words.append(WordTiming(word=token, start=max(0.0, float(start)), end=max(float(start), float(end))))
    return tuple(words)


class ElevenLabsVoice:
    """TTS provider `elevenlabs:<voice id>` (or `elevenlabs:<model id>` with AURA_ELEVENLABS_VOICE)."""

    def __init__(self, model: str = "", *, api_key: str | None = None, base_url: str | None = None,
                 **_: Any) -> None:
        settings = get_settings()
        if model.startswith("eleven_"):
            self.model_id, self.voice_id = model, settings.elevenlabs_voice
        else:
            self.model_id, self.voice_id = settings.elevenlabs_model, model or settings.elevenlabs_voice
        self.output_format = settings.elevenlabs_output_format
        self.max_retries = settings.vendor_max_retries
        self._key = api_key or get_secret(settings.elevenlabs_api_key, "ELEVENLABS_API_KEY",
                                          "elevenlabs-api-key", "the ElevenLabs API key")
        client_options: dict[str, Any] = {"timeout": settings.tts_timeout}
        if base_url or settings.elevenlabs_base_url:
            client_options["base_url"] = (base_url or settings.elevenlabs_base_url or "").rstrip("/")
        # the key is passed explicitly: the SDK reads ELEVENLABS_API_KEY only when it is imported
        self.client = ElevenLabs(api_key=self._key, **client_options)

    def synthesize(self, text: str, out_path: Path, settings: VoiceSettings) -> Speech:
        """Speak `text` into an MP3 at `out_path`, with word timings from the character alignment."""
        if not text.strip():
            raise BadRequestError("nothing to say: the narration text is empty")
        options: dict[str, Any] = {}
        if _LANGUAGE_MODELS.search(self.model_id):
            options["language_code"] = settings.language.split("-")[0]
        speed = max(0.7, min(1.2, settings.words_per_minute / 150))  # the range ElevenLabs accepts
        try:
            result = self.client.text_to_speech.convert_with_timestamps(
                settings.voice or self.voice_id, text=text, model_id=self.model_id,
                output_format=self.output_format, voice_settings=ElevenVoiceSettings(speed=round(speed, 2)),
                request_options={"max_retries": self.max_retries}, **options,
            )
        except (ApiError, ParsingError, httpx.HTTPError) as exc:
            error = from_elevenlabs(exc, secrets=(self._key,))
            raise error from cause(error, exc)
        try:
            audio = base64.b64decode(result.audio_base_64, validate=True)
        except (binascii.Error, TypeError, ValueError, AttributeError) as exc:
            raise InvalidOutputError("ElevenLabs returned audio that is not base64") from exc
        alignment = getattr(result, "alignment", None) or getattr(result, "normalized_alignment", None)
        if alignment is None:
            raise InvalidOutputError("ElevenLabs returned no character alignment")
        with atomic_path(out_path) as tmp:
            tmp.write_bytes(audio)
            duration = vendor_audio_duration(tmp, "ElevenLabs")
        words = words_from_alignment(text, alignment.characters, alignment.character_start_times_seconds,
                                     alignment.character_end_times_seconds)
        return Speech(audio_path=out_path, duration=duration, words=words, characters=len(text))
