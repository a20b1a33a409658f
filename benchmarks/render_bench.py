"""Render benchmark: Aura's default (ffmpeg) renderer, its moviepy renderer, and the encode-only lower bound.

The same timelines — 60 s with 12 scenes and 10 min with 120 scenes, at 720p and 1080p, with zoom,
crossfades and captions — are rendered by:

- `ffmpeg`: Aura's default renderer, exactly as the flow runs composition (one `render_segment` per
  scene on a thread pool of `AURA_MAX_WORKERS` threads, then `finish_video`: join without
  re-encoding, mux, probe, checks, loudness measurement, .srt/.vtt);
- `moviepy`: the same, with the moviepy renderer (so it too gets per-scene threads and a join
  without re-encoding);
- `moviepy-1pass`: moviepy the way peer tools use it: every scene in one composition, encoded with
  the soundtrack in one `write_videofile` (`MoviePyRenderer.render_in_one_pass`), no checks;
- `ffmpeg-clips`: the ffmpeg renderer on the same timeline made of footage clips instead of stills
  (stock-like sources of mixed sizes, frame rates and shapes, see `make_clips`): decoding, rate
  conversion, cover-crop and loop per scene instead of one still's zoom;
- `bound`: x264 encoding the frames the ffmpeg renderer produced (decoded beforehand to raw files,
  not timed), with the same preset and CRF, one x264 process with its default threads. No renderer
  can beat it: it is the encode alone.

Each case runs in a fresh Python process; its wall time, CPU time (process and children) and peak
memory (resident set of the process tree, sampled every 20 ms) cover the video: segments, join, mux
and checks. Building the inputs, the timeline and the soundtrack (mix, loudness, AAC: the flow runs
it alongside the segments) is timed apart and shown under the table.

    python benchmarks/render_bench.py                       # everything (the 10-min moviepy runs take hours)
    python benchmarks/render_bench.py --skip-moviepy-long   # 10-min moviepy figures extrapolated from 60 s
    python benchmarks/render_bench.py --quick               # 60 s at 720p only
    python benchmarks/render_bench.py --renderers ffmpeg,moviepy-1pass,bound --durations 60
    python benchmarks/render_bench.py --renderers ffmpeg,ffmpeg-clips --durations 60 --sizes 1080p   # footage

Figures that were not measured are marked as extrapolated in the table.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WORDS = ["bees", "dance", "to", "tell", "their", "sisters", "where", "the", "flowers", "are", "and", "how", "far",
         "the", "journey", "goes", "while", "the", "hive", "listens", "closely", "to", "every", "turn", "of", "the",
         "waggle", "run"]
CHUNK_FRAMES = 900  # frames per raw chunk for the encode-only bound (30 s: 1.4 GB at 720p, 2.8 GB at 1080p)


# ---------------------------------------------------------------- inputs


def _scene_seconds(total: float, scenes: int) -> list[float]:
    """Scene lengths around total/scenes (±12 %, deterministic), summing to `total`."""
    rng = np.random.default_rng(7)
    raw = total / scenes * (1 + rng.uniform(-0.12, 0.12, scenes))
    return list(raw * total / raw.sum())


def _speechlike(seconds: float, rate: int, seed: int) -> tuple[np.ndarray, list[tuple[str, float, float]]]:
    """Noise bursts shaped like words (0.25-0.4 s) with short gaps, and their word timings."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    audio = np.zeros(n, dtype=np.float32)
    words: list[tuple[str, float, float]] = []
    t = 0.15
    while t < seconds - 0.5:
        length = rng.uniform(0.25, 0.4)
        a, b = int(t * rate), int((t + length) * rate)
        noise = rng.standard_normal(b - a)
        audio[a:b] = 0.25 * np.convolve(noise, np.ones(8) / 8, mode="same") * np.hanning(b - a)
        words.append((WORDS[len(words) % len(WORDS)] + ("." if rng.random() < 0.12 else ""), t, t + length))
        t += length + rng.uniform(0.05, 0.15)
    return audio, words


def make_inputs(folder: Path, seconds: float, scenes: int, width: int, height: int) -> dict[str, Any]:
    """Narration WAVs with word timings and one drawn card per scene; cached in `folder`."""
    manifest = folder / "inputs.json"
    if manifest.is_file():
        return json.loads(manifest.read_text())
    from providers.base import ImageRequest
    from providers.images.cards import CardPainter
    from providers.media.files import file_digest

    folder.mkdir(parents=True, exist_ok=True)
    rate = 24000
    out: dict[str, Any] = {"narrations": [], "images": []}
    for i, d in enumerate(_scene_seconds(seconds, scenes)):
        audio, words = _speechlike(d, rate, i)
        wav = folder / f"voice-{i:03d}.wav"
        with wave.open(str(wav), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate)
            w.writeframes((np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes())
        png = folder / f"image-{i:03d}.png"
        CardPainter().generate(ImageRequest(prompt="bees", title=f"Scene {i + 1}: the waggle dance",
                                            text="Bees dance to point at flowers. More.", width=width, height=height,
                                            seed=i, palette_key=f"bench{i % 5}"), png)
        out["narrations"].append({"index": i, "audio": str(wav), "duration": len(audio) / rate,
                                  "words": [{"word": w, "start": a, "end": b} for w, a, b in words],
                                  "digest": file_digest(wav)})
        out["images"].append({"index": i, "path": str(png), "width": width, "height": height,
                              "digest": file_digest(png)})
    manifest.write_text(json.dumps(out))
    return out


# stock-like sources for the clips case: mixed sizes, frame rates and shapes around the output size
CLIP_SOURCES = [(1.0, 30, False), (2 / 3, 25, False), (4 / 3, 24, False), (1.0, 60, False), (1.0, 30, True)]


def make_clips(folder: Path, scenes: int, width: int, height: int, fps: int) -> list[dict[str, Any]]:
    """One footage clip per scene (a few sources reused, as a stock search would): cached in `folder`.

    The sources are a moving test pattern with light film-grain noise (so that decoding costs about what real
    footage costs, not what a flat synthetic picture does; about 6 Mb/s at 1080p, like stock HD files):
    full-frame at 30 and 60 fps, 2/3 size at 25 fps, 4/3 size at 24 fps, and a portrait one at 30 fps
    (cover-cropped); 8 s each, H.264 with x264's default key frame interval. Each then goes through
    what the visuals stage does once per clip (`providers.media.footage`: re-encoded when far costlier
    to decode than the video needs); that preparation is timed apart (`prepare_seconds`).
    """
    manifest = folder / f"clips-{fps}.json"
    if manifest.is_file():
        return list(json.loads(manifest.read_text()))
    from providers.media.files import file_digest
    from providers.media.footage import clip_info, conform_clip, key_frame_gap, needs_conform
    from providers.media.process import run_ffmpeg

    folder.mkdir(parents=True, exist_ok=True)
    sources = []
    for n, (scale, rate, portrait) in enumerate(CLIP_SOURCES):
        w, h = 2 * round(width * scale / 2), 2 * round(height * scale / 2)
        if portrait:
            w, h = h, w
        path = folder / f"source-{n}-{w}x{h}-{rate}.mp4"
        if not path.is_file():
            run_ffmpeg(["-f", "lavfi", "-i", f"testsrc2=size={w}x{h}:rate={rate}", "-vf", "noise=alls=5:allf=t",
                        "-t", "8", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-pix_fmt", "yuv420p",
                        path], timeout=1800)
        t0 = time.perf_counter()
        info = clip_info(path)
        if needs_conform(info, key_frame_gap(path, info.video_duration), width, height, fps):
            path = conform_clip(path, path.with_name(f"conformed-{path.name}"), width, height, fps, timeout=1800)
            info = clip_info(path)
        sources.append({"path": str(path), "width": info.width, "height": info.height, "digest": file_digest(path),
                        "seconds": info.video_duration, "fps": info.fps, "prepare": time.perf_counter() - t0})
    prepare = sum(src.pop("prepare") for src in sources)
    clips = [{"index": i, **sources[i % len(sources)], "kind": "clip", "provider": "pexels"} for i in range(scenes)]
    manifest.write_text(json.dumps(clips))
    (folder / f"clips-{fps}-prepare.json").write_text(json.dumps({"prepare_seconds": prepare}))
    return clips


# ---------------------------------------------------------------- measuring one case (child process)


class Meter:
    """Wall time, CPU time of this process and its children, and peak resident memory of the tree."""

    def __init__(self) -> None:
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> float:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                total += child.memory_info().rss
        return total / 2**20

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(0.02)

    def __enter__(self) -> Meter:
        self._self0 = resource.getrusage(resource.RUSAGE_SELF)
        self._kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._t0 = time.perf_counter()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._t0
        self._stop.set()
        self._thread.join()
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu = (me.ru_utime - self._self0.ru_utime + me.ru_stime - self._self0.ru_stime
                    + kids.ru_utime - self._kids0.ru_utime + kids.ru_stime - self._kids0.ru_stime)


def run_render_case(args: argparse.Namespace) -> dict[str, Any]:
    """Build the timeline, then render and finish it with one renderer (timed)."""
    from providers.settings import get_settings
    from tasks.compose import build_timeline, finish_video, mix_soundtrack, render_segment
    from tasks.schemas import Aspect, Narration, RenderSpec, SceneImage
    from tasks.timeline import image_digests, segment_plan

    spec = json.loads((Path(args.inputs) / "inputs.json").read_text())
    narrations = [Narration.model_validate(n) for n in spec["narrations"]]
    images = [SceneImage.model_validate(i) for i in spec["images"]]
    if args.renderer == "ffmpeg-clips":  # the same timeline with footage clips instead of stills
        clips = json.loads((Path(args.inputs) / f"clips-{args.fps}.json").read_text())
        images = [SceneImage.model_validate(c) for c in clips]
        args.renderer = "ffmpeg"
    render = RenderSpec(resolution=args.size, fps=args.fps, quality=args.quality, caption_style=args.caption_style,
                        encoder="software")
    run_dir = str(Path(args.work) / "run")
    t0 = time.perf_counter()
    timeline = build_timeline.fn(run_dir, narrations, images, render, Aspect.landscape)
    # the flow mixes the soundtrack alongside the segments; here it is made first and timed apart
    soundtrack = mix_soundtrack.fn(run_dir, narrations, render, timeline.duration)
    timeline_seconds = time.perf_counter() - t0
    n = len(timeline.scenes)
    plans = [segment_plan(timeline, i) for i in range(n)]
    digests = [image_digests(timeline, i) for i in range(n)]
    workers = get_settings().max_workers
    if args.renderer == "moviepy-1pass":
        from providers.media.streams import probe
        from providers.render.moviepy import MoviePyRenderer

        keep = [round(s.duration * timeline.fps) for s in timeline.scenes]
        with Meter() as meter:
            MoviePyRenderer().render_in_one_pass(plans, keep, soundtrack.path, Path(args.out))
        info = probe(Path(args.out))
        return {"wall": meter.wall, "cpu": meter.cpu, "peak_mb": meter.peak, "video_seconds": info.duration,
                "frames": sum(keep), "timeline_seconds": timeline_seconds, "preset": timeline.preset,
                "crf": timeline.crf, "workers": 1, "size_bytes": Path(args.out).stat().st_size}
    with Meter() as meter, ThreadPoolExecutor(max_workers=workers) as pool:
        segments = list(pool.map(lambda i: render_segment.fn(run_dir, i, plans[i], digests[i], args.renderer, n),
                                 range(n)))
        video = finish_video.fn(run_dir, timeline, segments, soundtrack, args.out, "bench", "bench",
                                sum(x.duration for x in narrations))
    return {"wall": meter.wall, "cpu": meter.cpu, "peak_mb": meter.peak, "video_seconds": video.duration,
            "frames": round(timeline.duration * timeline.fps), "timeline_seconds": timeline_seconds,
            "preset": timeline.preset, "crf": timeline.crf, "workers": workers, "size_bytes": video.size_bytes}


def run_bound_case(args: argparse.Namespace) -> dict[str, Any]:
    """x264 alone on the ffmpeg renderer's frames: decode to raw chunks (not timed), encode each (timed)."""
    import av

    from providers.media.process import ffmpeg_exe

    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    wall = cpu = peak = 0.0
    frames = 0
    with av.open(args.source) as container:
        stream = container.streams.video[0]
        width, height, fps = stream.codec_context.width, stream.codec_context.height, args.fps
        decoded = container.decode(stream)
        chunk = 0
        while True:
            raw = work / f"chunk-{chunk:03d}.yuv"
            count = 0
            with open(raw, "wb") as handle:
                for frame in decoded:
                    handle.write(frame.to_ndarray(format="yuv420p").tobytes())
                    count += 1
                    if count == CHUNK_FRAMES:
                        break
            if count == 0:
                raw.unlink()
                break
            cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", "-f", "rawvideo",
                   "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-r", str(fps), "-i", str(raw),
                   "-c:v", "libx264", "-preset", args.preset, "-crf", str(args.crf), "-pix_fmt", "yuv420p",
                   str(work / f"chunk-{chunk:03d}.mp4")]
            kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd)
            ps = psutil.Process(proc.pid)
            while proc.poll() is None:
                with contextlib.suppress(psutil.Error):
                    peak = max(peak, ps.memory_info().rss / 2**20)
                time.sleep(0.02)
            wall += time.perf_counter() - t0
            kids = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu += kids.ru_utime - kids0.ru_utime + kids.ru_stime - kids0.ru_stime
            if proc.returncode != 0:
                raise SystemExit(f"encode-only chunk {chunk} failed")
            raw.unlink()
            frames += count
            chunk += 1
            if count < CHUNK_FRAMES:
                break
    return {"wall": wall, "cpu": cpu, "peak_mb": peak, "video_seconds": frames / fps, "frames": frames,
            "chunks": chunk}


# ---------------------------------------------------------------- orchestration (parent process)


def _child(kind: str, repeat: int = 1, **options: Any) -> dict[str, Any]:
    """Run one case in a fresh process `repeat` times; keep the fastest run (others only add noise)."""
    cmd = [sys.executable, __file__, "--case", kind, *[f"--{k.replace('_', '-')}={v}" for k, v in options.items()]]
    env = {**os.environ, "PREFECT_LOGGING_LEVEL": "ERROR"}
    runs = []
    for _ in range(repeat):
        load = os.getloadavg()[0]
        done = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)
        if done.returncode != 0:
            raise SystemExit(f"case {kind} {options} failed:\n{done.stderr[-3000:]}")
        result = json.loads(done.stdout.strip().splitlines()[-1])
        runs.append({**result, "load": max(load, os.getloadavg()[0]), "runs": repeat})
    return min(runs, key=lambda r: r["wall"])


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="60 s at 720p only")
    parser.add_argument("--sizes", default="720p,1080p", help="comma-separated: 720p,1080p")
    parser.add_argument("--durations", default="60,600", help="comma-separated seconds; scenes = seconds / 5")
    parser.add_argument("--renderers", default="ffmpeg,moviepy,moviepy-1pass,bound", help="which columns to measure")
    parser.add_argument("--skip-moviepy-long", action="store_true",
                        help="do not render the moviepy cases longer than 60 s; extrapolate them linearly")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the 60-s ffmpeg and bound cases this many times, keep the fastest")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--quality", default="standard", help="draft, standard (x264 veryfast, CRF 23) or high")
    parser.add_argument("--caption-style", default="phrase")
    parser.add_argument("--work", default="", help="working folder (default: a temporary one, deleted)")
    parser.add_argument("--json", default="", help="also write the results to this JSON file")
    # child-process options
    parser.add_argument("--case", default="", help=argparse.SUPPRESS)
    for hidden in ("inputs", "out", "renderer", "size", "source", "preset", "crf"):
        parser.add_argument(f"--{hidden}", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.case:
        if args.case == "render":
            result = run_render_case(args)
        else:
            args.crf = int(args.crf)
            result = run_bound_case(args)
        print(json.dumps(result))
        return

    sizes = ["720p"] if args.quick else args.sizes.split(",")
    durations = [60.0] if args.quick else [float(d) for d in args.durations.split(",")]
    renderers = args.renderers.split(",")
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="aura-bench-"))
    rows: list[dict[str, Any]] = []
    print(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB; "
          f"AURA_MAX_WORKERS={os.environ.get('AURA_MAX_WORKERS', 'default')}", file=sys.stderr)
    try:
        for size in sizes:
            height = int(size.removesuffix("p"))
            width = round(height * 16 / 9 / 2) * 2
            measured_moviepy: dict[str, dict[str, Any]] = {}  # the 60-s figures, per moviepy variant
            for seconds in durations:
                scenes = max(1, round(seconds / 5))
                case = f"{size} {seconds:g}s/{scenes} scenes"
                inputs = work / f"inputs-{size}-{seconds:g}"
                t0 = time.perf_counter()
                make_inputs(inputs, seconds, scenes, width, height)
                if "ffmpeg-clips" in renderers:
                    make_clips(inputs, scenes, width, height, args.fps)
                    prepared = json.loads((inputs / f"clips-{args.fps}-prepare.json").read_text())["prepare_seconds"]
                    print(f"[{case}] footage prepared as the visuals stage does, once per clip (not in the "
                          f"figures): {prepared:.1f} s", file=sys.stderr)
                print(f"[{case}] inputs ready in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
                results: dict[str, dict[str, Any]] = {}
                for renderer in ("ffmpeg", "ffmpeg-clips", "moviepy", "moviepy-1pass"):
                    if renderer not in renderers and not (renderer == "ffmpeg" and "bound" in renderers):
                        continue
                    if renderer.startswith("moviepy") and args.skip_moviepy_long and seconds > 60:
                        short = measured_moviepy.get(renderer)
                        if short is not None:
                            factor = seconds / short["video_seconds"]
                            results[renderer] = {**short, "wall": short["wall"] * factor,
                                                 "cpu": short["cpu"] * factor, "extrapolated": True,
                                                 "video_seconds": seconds}
                        continue
                    out = work / f"{renderer}-{size}-{seconds:g}.mp4"
                    print(f"[{case}] rendering with {renderer} ...", file=sys.stderr)
                    repeat = args.repeat if renderer.startswith("ffmpeg") and seconds <= 60 else 1
                    results[renderer] = _child("render", repeat, inputs=inputs, out=out, renderer=renderer, size=size,
                                               fps=args.fps, quality=args.quality, caption_style=args.caption_style,
                                               work=work / f"work-{renderer}-{size}-{seconds:g}")
                    shutil.rmtree(work / f"work-{renderer}-{size}-{seconds:g}", ignore_errors=True)
                    if renderer.startswith("moviepy") and seconds <= 60:
                        measured_moviepy[renderer] = results[renderer]
                if "bound" in renderers and "ffmpeg" in results:
                    print(f"[{case}] encode-only bound ...", file=sys.stderr)
                    results["bound"] = _child("bound", args.repeat if seconds <= 60 else 1,
                                              source=work / f"ffmpeg-{size}-{seconds:g}.mp4", fps=args.fps,
                                              preset=results["ffmpeg"]["preset"], crf=results["ffmpeg"]["crf"],
                                              work=work / "bound")
                    shutil.rmtree(work / "bound", ignore_errors=True)
                for name, r in results.items():
                    if name in renderers:
                        rows.append({"case": case, "size": size, "seconds": seconds, "renderer": name, **r})
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


def print_table(rows: list[dict[str, Any]]) -> None:
    """One table: wall, CPU, peak memory, video seconds per wall second, and the ratios."""
    def find(case: str, renderer: str) -> dict[str, Any] | None:
        return next((r for r in rows if r["case"] == case and r["renderer"] == renderer), None)

    header = ("| case | renderer | wall s | CPU s | peak MB | video s / wall s | wall ÷ bound | moviepy ÷ this "
              "| 1-pass ÷ this | mem ÷ 60 s | note |")
    print(header)
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or not b else a / b

    for r in rows:
        bound, moviepy = find(r["case"], "bound"), find(r["case"], "moviepy")
        one_pass = find(r["case"], "moviepy-1pass")
        short = next((x for x in rows if x["size"] == r["size"] and x["renderer"] == r["renderer"]
                      and x["seconds"] <= 60), None)
        mem_ratio = ratio(r["peak_mb"], short["peak_mb"]) if short and short is not r else None
        if r.get("extrapolated"):
            note = "extrapolated from 60 s (time ×10; memory as measured at 60 s)"
        else:
            note = f"measured, best of {r.get('runs', 1)}, load {r.get('load', 0):.1f}"
        if r["renderer"] == "bound":
            note += f", x264 {r.get('chunks', 1)} chunk(s)"
        print(f"| {r['case']} | {r['renderer']} | {_fmt(r['wall'])} | {_fmt(r['cpu'])} | {_fmt(r['peak_mb'], 0)} "
              f"| {_fmt(r['video_seconds'] / r['wall'], 2)} "
              f"| {_fmt(ratio(r['wall'], bound['wall'] if bound else None), 2)} "
              f"| {_fmt(ratio(moviepy['wall'] if moviepy else None, r['wall']), 1)} "
              f"| {_fmt(ratio(one_pass['wall'] if one_pass else None, r['wall']), 1)} "
              f"| {_fmt(mem_ratio, 2)} | {note} |")
    for r in rows:
        stills = find(r["case"], "ffmpeg")
        if r["renderer"] == "ffmpeg-clips" and stills:
            print(f"  {r['case']}: clips ÷ stills (same run) {r['wall'] / stills['wall']:.2f} wall, "
                  f"{r['cpu'] / stills['cpu']:.2f} CPU (target: at most 1.5 wall)")
    for r in rows:
        if r["renderer"] != "bound" and "timeline_seconds" in r:
            print(f"  {r['case']} {r['renderer']}: timeline + soundtrack (mix, loudness, AAC; not in the figures "
                  f"above) {r['timeline_seconds']:.1f} s; x264 {r['preset']} CRF {r['crf']}; {r['workers']} threads")


if __name__ == "__main__":
    main()
