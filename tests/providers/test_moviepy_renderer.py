"""The moviepy renderer renders the same plan as the default one: frames, crossfade, captions, joinable segments."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from providers.base import CaptionCue, SegmentPlan, WordTiming
from providers.media.caption_art import layout_caption
from providers.media.streams import video_packets
from providers.registry import resolve

pytest.importorskip("moviepy")

W, H, FPS = 320, 180, 24


def _png(path: Path, colour: tuple[int, int, int]) -> Path:
    Image.new("RGB", (W, H), colour).save(path)
    return path


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]


def test_moviepy_renders_the_plan_with_exact_frames_fade_and_captions(tmp_path: Path) -> None:
    words = (WordTiming(word="Bees", start=0.5, end=0.7), WordTiming(word="dance", start=0.75, end=0.95))
    plan = SegmentPlan(
        image=_png(tmp_path / "grey.png", (200, 200, 200)), duration=31 / FPS, width=W, height=H, fps=FPS,
        previous_image=_png(tmp_path / "red.png", (220, 0, 0)), previous_zoom=(1.12, 1.13), fade_in=0.25,
        captions=(CaptionCue(start=0.5, end=1.0, text="Bees dance", words=words),), caption_style="karaoke",
        preset="ultrafast", crf=30,
    )
    renderer = resolve("renderer", "moviepy")
    out = renderer.render_segment(plan, tmp_path / "seg.mp4")
    packets = video_packets(out)
    assert packets.count == 31 and packets.key_frame_indices(FPS)[-1] == 30  # joinable like the ffmpeg ones
    frames = _frames(out)
    assert frames[0][..., 0].mean() > 180 and frames[0][..., 1].mean() < 60  # starts on the previous image
    assert abs(frames[8][..., 1].mean() - 200) < 25  # after the fade
    lay = layout_caption("Bees dance", W, H, ["Bees", "dance"])
    box = frames[15][lay.y:lay.y + lay.box_height, lay.x:lay.x + lay.box_width]
    assert 200 - box.mean() > 40  # the caption is up while the words are spoken
    clear = frames[8][lay.y:lay.y + lay.box_height, lay.x:lay.x + lay.box_width]
    assert abs(200 - clear.mean()) < 10  # and not before
    word = lay.words[0]
    part = frames[14][lay.y + word.y:lay.y + word.y + lay.font_size + 4, lay.x + word.x:lay.x + word.x + word.width]
    assert ((part[..., 0] > 170) & (part[..., 1] > 140) & (part[..., 2] < 110)).sum() > 5  # "Bees" highlighted


def test_one_pass_renders_every_scene_with_the_audio_and_the_kept_frames(tmp_path: Path) -> None:
    """The benchmark's one-pass reference: the same scenes, one composition, one encode with the soundtrack."""
    import subprocess

    from providers.media.process import ffmpeg_exe
    from providers.media.streams import probe
    from providers.render.moviepy import MoviePyRenderer

    red, blue = _png(tmp_path / "red.png", (220, 0, 0)), _png(tmp_path / "blue.png", (0, 0, 220))
    common = {"width": W, "height": H, "fps": FPS, "preset": "ultrafast", "crf": 30}
    plans = [SegmentPlan(image=red, duration=25 / FPS, **common),
             SegmentPlan(image=blue, duration=24 / FPS, previous_image=red, previous_zoom=(1.1, 1.11), fade_in=0.25,
                         **common)]
    audio = tmp_path / "audio.m4a"
    subprocess.run([ffmpeg_exe(), "-v", "error", "-f", "lavfi", "-i", "sine=f=440:d=2", "-c:a", "aac", str(audio)],
                   check=True)
    out = MoviePyRenderer().render_in_one_pass(plans, [24, 24], audio, tmp_path / "video.mp4")
    info = probe(out)
    assert (info.width, info.height, info.audio_codec) == (W, H, "aac")
    frames = _frames(out)
    assert len(frames) == 48
    assert frames[10][..., 0].mean() > 180 and frames[10][..., 2].mean() < 60  # scene 1: red
    assert frames[24][..., 0].mean() > 150  # scene 2 starts on the red image, fading out
    assert frames[40][..., 2].mean() > 180 and frames[40][..., 0].mean() < 60  # then blue
    assert list(tmp_path.glob("*.tmp*")) == [] and sorted(p.name for p in tmp_path.glob("*.mp4")) == ["video.mp4"]
