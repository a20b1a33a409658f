"""Benchmark the diffusers image provider: images per second, one call per image vs batched calls.

Runs through the provider's own code (loading, batching worker, seeded generators, crop, PNG
write). Without --model it builds a tiny random Stable Diffusion pipeline in a temporary folder and
runs on the CPU, which checks the machinery, not the speed of a real model.

    python benchmarks/diffusers_bench.py                                   # tiny model, CPU
    python benchmarks/diffusers_bench.py --model stabilityai/sdxl-turbo \\
        --sizes 512x512,768x432 --batch 1,4,8 --images 16                  # on a GPU

Peak memory is the GPU's peak allocation on CUDA, else the process's peak resident memory while
the row ran.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for item in text.split(","):
        w, _, h = item.lower().partition("x")
        sizes.append((int(w), int(h or w)))
    return sizes


class _PeakRSS:
    """Samples the resident memory of this process every few milliseconds while active."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.process.memory_info().rss)
            time.sleep(0.01)

    def __enter__(self) -> _PeakRSS:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()


def _run_row(provider: Any, size: tuple[int, int], images: int, batch: int, out: Path) -> dict[str, Any]:
    """Make `images` images: one after another when batch is 1, else from `images` threads at once."""
    import torch

    from providers.base import ImageRequest
    from providers.images import diffusers as d

    loaded = provider.loaded
    settings = provider.settings
    window = settings.diffusers_batch_window_ms / 1000 if batch > 1 else 0.0
    loaded.batcher = d._Batcher(lambda jobs: d._call(loaded, jobs), batch, window, f"bench-{batch}")
    requests = [ImageRequest(prompt=f"a honeybee on a sunflower, picture {i}", title="bench", width=size[0],
                             height=size[1], seed=i) for i in range(images)]
    cuda = loaded.device.startswith("cuda")
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    with _PeakRSS() as rss:
        started = time.perf_counter()
        if batch == 1:
            for i, request in enumerate(requests):
                provider.generate(request, out / f"{size[0]}x{size[1]}-{batch}-{i}.png")
        else:
            threads = [threading.Thread(target=provider.generate,
                                        args=(r, out / f"{size[0]}x{size[1]}-{batch}-{i}.png"))
                       for i, r in enumerate(requests)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        if cuda:
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
    peak = torch.cuda.max_memory_allocated() if cuda else rss.peak
    calls = loaded.batcher.batch_sizes
    return {"size": f"{size[0]}x{size[1]}", "mode": "per-call" if batch == 1 else f"batched x{batch}",
            "images": images, "calls": len(calls), "seconds": seconds, "ips": images / seconds,
            "per_image": seconds / images, "peak_mb": peak / 2**20}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="hub id or local folder (default: a tiny random SD built here)")
    parser.add_argument("--sizes", default="64x64,128x72", help="generation sizes WxH, comma-separated")
    parser.add_argument("--batch", default="1,4", help="batch sizes to compare (1 = one call per image)")
    parser.add_argument("--images", type=int, default=8, help="images per row")
    parser.add_argument("--steps", type=int, help="inference steps (default: the model family's)")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args(argv)

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    tmp = Path(tempfile.mkdtemp(prefix="aura-bench-"))
    model = args.model
    if not model:
        from tests.fakes.tiny_diffusion import build_tiny_sd

        if not args.threads:
            torch.set_num_threads(1)  # tiny models: threading overhead dominates
        model = str(build_tiny_sd(tmp / "tiny-sd"))
    sizes = _parse_sizes(args.sizes)
    os.environ["AURA_DIFFUSERS_DEVICE"] = args.device
    os.environ["AURA_DIFFUSERS_SIZE"] = str(max(max(s) for s in sizes))
    if args.steps:
        os.environ["AURA_DIFFUSERS_STEPS"] = str(args.steps)

    from providers.registry import resolve
    from providers.settings import get_settings

    get_settings.cache_clear()
    started = time.perf_counter()
    provider = resolve("images", f"diffusers:{model}")
    load_s = time.perf_counter() - started
    loaded = provider.loaded
    steps = provider.settings.diffusers_steps or loaded.family.steps
    dtype = getattr(loaded.pipe, "dtype", "")
    name = args.model or "tiny random SD"
    print(f"model {name} | {type(loaded.pipe).__name__} | family {loaded.family.name} | {loaded.device} "
          f"{dtype} | {steps} steps | torch threads {torch.get_num_threads()} | load {load_s:.2f} s")
    rows = []
    for size in sizes:
        _run_row(provider, size, 1, 1, tmp)  # warm-up at this size
        for batch in (int(b) for b in args.batch.split(",")):
            rows.append(_run_row(provider, size, args.images, batch, tmp))
    head = f"{'size':>9} {'mode':>11} {'images':>6} {'calls':>5} {'seconds':>8} {'images/s':>9} " \
           f"{'s/image':>8} {'peak MB':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['size']:>9} {r['mode']:>11} {r['images']:>6} {r['calls']:>5} {r['seconds']:>8.3f} "
              f"{r['ips']:>9.2f} {r['per_image']:>8.3f} {r['peak_mb']:>8.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
