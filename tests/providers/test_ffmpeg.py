"""The default renderer, checked in its frames: exact length, cover crop, crossfade, captions while spoken, joins."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

from providers.base import CaptionCue, SegmentPlan, WordTiming
from providers.errors import MediaError
from providers.media.caption_art import layout_caption
from providers.media.streams import check_segment, join_and_mux, video_packets
from providers.render.ffmpeg import FFmpegRenderer, segment_graph

W, H, FPS = 320, 180, 24


def _png(path: Path, colour: tuple[int, int, int], size: tuple[int, int] = (W, H)) -> Path:
    Image.new("RGB", size, colour).save(path)
    return path


def _frames(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").astype(int) for f in container.decode(video=0)]


def _plan(image: Path, seconds: float, **changes: object) -> SegmentPlan:
    values: dict[str, object] = {"image": image, "duration": seconds, "width": W, "height": H, "fps": FPS,
                                 "preset": "ultrafast", "crf": 30}
    values.update(changes)
    return SegmentPlan.model_validate(values)


def test_segment_has_exact_frames_and_ends_on_a_key_frame(tmp_path: Path) -> None:
    plan = _plan(_png(tmp_path / "a.png", (200, 200, 200)), 37 / FPS)
    out = FFmpegRenderer().render_segment(plan, tmp_path / "seg.mp4")
    packets = video_packets(out)
    assert packets.count == 37
    assert packets.key_frame_indices(FPS)[0] == 0 and packets.key_frame_indices(FPS)[-1] == 36
    check_segment(out, plan)
    with pytest.raises(MediaError, match="frames"):
        check_segment(out, _plan(plan.image, 30 / FPS))


def test_other_aspects_are_cover_scaled_and_cropped_never_stretched(tmp_path: Path) -> None:
    # a portrait picture in three bands: red, green, blue; a landscape frame shows only the middle band
    band = np.zeros((160, 90, 3), dtype=np.uint8)
    band[:53] = (220, 0, 0)
    band[53:107] = (0, 200, 0)
    band[107:] = (0, 0, 220)
    Image.fromarray(band).save(tmp_path / "portrait.png")
    out = FFmpegRenderer().render_segment(_plan(tmp_path / "portrait.png", 0.25, motion=False), tmp_path / "s.mp4")
    frame = _frames(out)[0]
    assert frame.shape == (H, W, 3)
    assert frame[..., 1].mean() > 150 and frame[..., 0].mean() < 40 and frame[..., 2].mean() < 40


def test_the_previous_image_crossfades_into_the_segment(tmp_path: Path) -> None:
    plan = _plan(_png(tmp_path / "blue.png", (0, 0, 220)), 1.0, previous_image=_png(tmp_path / "red.png", (220, 0, 0)),
                 fade_in=0.5, previous_zoom=(1.12, 1.13))
    frames = _frames(FFmpegRenderer().render_segment(plan, tmp_path / "s.mp4"))
    red = [f[..., 0].mean() for f in frames]
    blue = [f[..., 2].mean() for f in frames]
    assert red[0] > 180 and blue[0] < 40  # starts on the previous image
    assert 60 < red[6] < 160 and 60 < blue[6] < 160  # halfway through the fade: both
    assert red[14] < 30 and blue[14] > 180  # after the fade: only this scene
    assert all(a >= b - 2 for a, b in zip(red[:13], red[1:13], strict=False))  # fading monotonically


def _cue() -> CaptionCue:
    words = (WordTiming(word="Bees", start=0.5, end=0.7), WordTiming(word="dance", start=0.75, end=0.95))
    return CaptionCue(start=0.5, end=1.0, text="Bees dance", words=words)


def _box_darkness(frame: np.ndarray, x: int, y: int, w: int, h: int) -> float:
    return 200 - frame[y:y + h, x:x + w].mean()


def test_phrase_captions_show_exactly_while_their_words_are_spoken(tmp_path: Path) -> None:
    plan = _plan(_png(tmp_path / "grey.png", (200, 200, 200)), 1.5, captions=(_cue(),))
    frames = _frames(FFmpegRenderer().render_segment(plan, tmp_path / "s.mp4"))
    lay = layout_caption("Bees dance", W, H)
    dark = [_box_darkness(f, lay.x, lay.y, lay.box_width, lay.box_height) for f in frames]
    shown = [i for i, d in enumerate(dark) if d > 40]
    assert shown == list(range(12, 24))  # 0.5 s to 1.0 s at 24 fps
    assert max(dark[:12] + dark[24:]) < 5


def _yellow_in(frame: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> int:
    part = frame[y0:y1, x0:x1]
    return int(((part[..., 0] > 170) & (part[..., 1] > 140) & (part[..., 2] < 110)).sum())


def test_karaoke_highlights_each_word_while_it_is_spoken(tmp_path: Path) -> None:
    plan = _plan(_png(tmp_path / "grey.png", (90, 90, 90)), 1.5, captions=(_cue(),), caption_style="karaoke")
    frames = _frames(FFmpegRenderer().render_segment(plan, tmp_path / "s.mp4"))
    lay = layout_caption("Bees dance", W, H, ["Bees", "dance"])
    boxes = [(lay.x + w.x, lay.y + w.y, lay.x + w.x + w.width, lay.y + w.y + lay.font_size + 4) for w in lay.words]
    for n in (13, 16):  # "Bees" is spoken from 0.5 s (frame 12) until "dance" starts (frame 18)
        assert _yellow_in(frames[n], *boxes[0]) > 5 and _yellow_in(frames[n], *boxes[1]) == 0
    for n in (19, 22):
        assert _yellow_in(frames[n], *boxes[1]) > 5 and _yellow_in(frames[n], *boxes[0]) == 0
    assert all(_yellow_in(frames[n], 0, 0, W, H) == 0 for n in (5, 11, 25, 30))


def test_graph_overlays_the_previous_image_only_for_the_fade(tmp_path: Path) -> None:
    plan = _plan(tmp_path / "a.png", 1.0, previous_image=tmp_path / "b.png", fade_in=0.25)
    graph, label = segment_graph(plan, [])
    assert "d=6:" in graph and "fade=t=out" in graph and "xfade" not in graph and label == "faded"


def test_join_cuts_the_last_frame_without_reencoding(tmp_path: Path) -> None:
    renderer = FFmpegRenderer()
    a = renderer.render_segment(_plan(_png(tmp_path / "r.png", (220, 0, 0)), 10 / FPS), tmp_path / "a.mp4")
    b = renderer.render_segment(_plan(_png(tmp_path / "g.png", (0, 200, 0)), 10 / FPS), tmp_path / "b.mp4")
    audio = tmp_path / "silence.wav"
    import wave

    with wave.open(str(audio), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 8000)
    out = join_and_mux([a, b], audio, tmp_path / "ab.mp4", keep=[9, 10], fps=FPS)
    frames = _frames(out)
    assert len(frames) == 19
    assert frames[8][..., 0].mean() > 180 and frames[9][..., 1].mean() > 150  # the cut is exactly at frame 9
    assert video_packets(out).key_frame_indices(FPS)[:2] == [0, 9]
    with pytest.raises(MediaError, match="cannot keep"):
        join_and_mux([a, b], audio, tmp_path / "bad.mp4", keep=[8, 10], fps=FPS)
