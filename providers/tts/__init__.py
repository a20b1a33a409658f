"""Voices: espeak-ng, ElevenLabs, OpenAI."""
