"""Renderers: ffmpeg (default) and moviepy (reference)."""
