"""Voice and visuals tasks through .fn(): real files, measured durations, digests."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from providers.base import VoiceSettings
from tasks.schemas import Brief, Script
from tasks.visuals import generate_scene_image, image_requests
from tasks.voice import narration_path, synthesize_narration, voice_settings


def test_synthesize_narration_measures_real_audio(tmp_path: Path) -> None:
    text = "Bees dance to point at flowers."
    narration = synthesize_narration.fn(str(tmp_path), 2, text, "local", VoiceSettings())
    assert narration.audio == narration_path(str(tmp_path), 2, text, "local", VoiceSettings())
    assert narration.audio.name.startswith("scene-002-") and narration.audio.is_file()
    assert 1.0 < narration.duration < 5.0
    assert narration.words[-1].end <= narration.duration
    assert len(narration.digest) == 16


def test_voice_settings_follow_pacing() -> None:
    fast, normal = voice_settings(Brief(topic="x", pacing="fast")), voice_settings(Brief(topic="x"))
    assert fast.words_per_minute > normal.words_per_minute


def test_scene_images_have_the_frame_size_and_stable_seeds(tmp_path: Path) -> None:
    script = Script.model_validate({"title": "T", "scenes": [
        {"title": "One", "narration": "First.", "visual_prompt": "a hive"},
        {"title": "Two", "narration": "Second.", "visual_prompt": "a flower"},
    ]})
    brief = Brief(topic="Bees", aspect="9:16")
    requests = image_requests(script, brief, 180, 320, "job1")
    assert requests == image_requests(script, brief, 180, 320, "job1")
    assert requests[0].seed != requests[1].seed
    assert requests[0].seed != image_requests(script, brief, 180, 320, "job2")[0].seed
    image = generate_scene_image.fn(str(tmp_path), 1, requests[1], "local")
    with Image.open(image.path) as img:
        assert img.size == (180, 320)
    assert image.index == 1 and image.path.parent.name == "images"
