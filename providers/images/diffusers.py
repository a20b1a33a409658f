"""Image provider `diffusers:<hub id or local folder>`: text-to-image on a local GPU (or the CPU).

- Loading: `AutoPipelineForText2Image.from_pretrained` from a local folder or the user's Hugging
  Face cache (`local_files_only` unless AURA_DIFFUSERS_ALLOW_DOWNLOAD); a missing model is a
  ConfigurationError that says how to get it. One pipeline per model, device and dtype per process,
  reused for every scene.
- Families: SDXL-Turbo (2 steps, guidance 0, 512 px), FLUX.1-schnell (4 steps, guidance 0, bf16),
  FLUX.1-dev, SDXL base (25 steps), SD 3, SD 1.x/2.x; fp16 (bf16 for FLUX) on CUDA, fp32 on the CPU.
- Devices: CUDA when there is one; otherwise the CPU with a warning, or an error when
  AURA_DIFFUSERS_REQUIRE_GPU is set. At most one pipeline call per device at a time.
- Batching: each loaded pipeline has one worker thread. On a GPU it gathers the requests that
  arrive within a few milliseconds (same size and steps) into one call, each with its own seeded
  generator, so a scene's image depends on its seed and not on what it was batched with.
- Sizes: generated at about the family's native area in the frame's aspect (multiples of 8, 16 or
  64 as the family needs), then cropped and scaled to the frame, never stretched.
"""

from __future__ import annotations

import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from PIL import Image

from providers.base import ImageRequest
from providers.errors import ConfigurationError, TransientError
from providers.media.files import atomic_path
from providers.media.imaging import cover
from providers.settings import Settings, get_settings

__all__ = ["FAMILIES", "DiffusersImages", "Family", "detect_family", "generation_size", "locate"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Family:
    """Defaults for one model family."""

    name: str
    steps: int
    guidance: float
    side: int  # generate at about side × side pixels
    multiple: int  # width and height must be multiples of this
    cuda_dtype: torch.dtype = torch.float16
    extra: tuple[tuple[str, Any], ...] = ()  # further keyword arguments for the pipeline call


FAMILIES: dict[str, Family] = {
    "sdxl-turbo": Family("sdxl-turbo", 2, 0.0, 512, 64),
    "sd-turbo": Family("sd-turbo", 2, 0.0, 512, 8),
    "flux-schnell": Family("flux-schnell", 4, 0.0, 1024, 64, torch.bfloat16, (("max_sequence_length", 256),)),
    "flux-dev": Family("flux-dev", 28, 3.5, 1024, 64, torch.bfloat16),
    "sdxl": Family("sdxl", 25, 5.0, 1024, 64),
    "sd3": Family("sd3", 28, 7.0, 1024, 64),
    "sd": Family("sd", 25, 7.5, 512, 8),
}


def detect_family(class_name: str, model: str) -> Family:
    """The family of a pipeline from its class name (model_index.json) and the model's name."""
    name = model.lower()
    if not class_name:  # not known before a download: guess from the name
        hints = {"flux": "Flux", "xl": "XL", "diffusion-3": "StableDiffusion3"}
        class_name = next((cls for word, cls in hints.items() if word in name), "")
    if "Flux" in class_name:
        return FAMILIES["flux-schnell" if "schnell" in name else "flux-dev"]
    if "XL" in class_name:
        return FAMILIES["sdxl-turbo" if "turbo" in name else "sdxl"]
    if "StableDiffusion3" in class_name:
        return FAMILIES["sd3"]
    return FAMILIES["sd-turbo" if "turbo" in name else "sd"]


def generation_size(width: int, height: int, side: int, multiple: int) -> tuple[int, int]:
    """About side² pixels (no more than the frame's) in the frame's aspect, in multiples of `multiple`."""
    area = min(side * side, width * height)
    h = math.sqrt(area * height / width)
    w = h * width / height

    def snap(x: float) -> int:
        return max(multiple, round(x / multiple) * multiple)

    return snap(w), snap(h)


def _how_to_get(model: str) -> str:
    login = " (FLUX models are gated: accept the licence on huggingface.co and `hf auth login` first)" \
        if "flux" in model.lower() else ""
    return (
        f"download it once with `huggingface-cli download {model}` (or `hf download {model}`){login}, "
        f"or use a local folder: diffusers:/path/to/model, or set AURA_DIFFUSERS_ALLOW_DOWNLOAD=true"
    )


def _is_path(model: str) -> bool:
    return model.startswith(("/", ".", "~")) or "\\" in model or model.count("/") > 1 or Path(model).exists()


def locate(model: str, allow_download: bool) -> tuple[str, str]:
    """The source to load (folder or hub id) and its pipeline class name; ConfigurationError if absent."""
    if _is_path(model):
        folder = Path(model).expanduser().resolve()
        index = folder / "model_index.json"
        if not index.is_file():
            raise ConfigurationError(f"no diffusers model at {folder} (it has no model_index.json): "
                                     f"give the folder of a saved pipeline")
        return str(folder), str(json.loads(index.read_text()).get("_class_name", ""))
    from huggingface_hub import try_to_load_from_cache

    cached = try_to_load_from_cache(model, "model_index.json")
    if isinstance(cached, str):
        return model, str(json.loads(Path(cached).read_text()).get("_class_name", ""))
    if allow_download:
        return model, ""
    raise ConfigurationError(f"the diffusers model {model!r} is not in the Hugging Face cache: "
                             f"{_how_to_get(model)}")


def _pick_device(setting: str, require_gpu: bool) -> str:
    if setting == "auto":
        if torch.cuda.is_available():
            return "cuda"
        device = "mps" if torch.backends.mps.is_available() else "cpu"
    elif setting.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigurationError(f"AURA_DIFFUSERS_DEVICE={setting} but torch sees no CUDA GPU "
                                 f"(torch {torch.__version__}): install a CUDA build of torch or use cpu")
    else:
        device = setting
    if require_gpu and not device.startswith("cuda"):
        raise ConfigurationError("AURA_DIFFUSERS_REQUIRE_GPU is set but no CUDA GPU is visible to torch: "
                                 "run on a GPU machine, or unset it to run (slowly) on the CPU")
    return device


def _pick_dtype(setting: str, device: str, family: Family) -> torch.dtype:
    if setting != "auto":
        return {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}[setting]
    if device.startswith("cuda"):
        if family.cuda_dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
            return torch.float16
        return family.cuda_dtype
    return torch.float16 if device == "mps" else torch.float32


@dataclass
class _Job:
    prompt: str
    seed: int
    width: int
    height: int
    steps: int
    guidance: float
    future: Future[Image.Image] = field(default_factory=Future)

    @property
    def shape(self) -> tuple[int, int, int, float]:
        return self.width, self.height, self.steps, self.guidance


_device_locks: dict[str, threading.Lock] = {}
_device_locks_guard = threading.Lock()


def _device_lock(device: str) -> threading.Lock:
    with _device_locks_guard:
        return _device_locks.setdefault(device, threading.Lock())


class _Batcher:
    """One worker thread that runs a pipeline's calls one at a time, batching jobs of the same shape."""

    def __init__(self, run: Callable[[list[_Job]], list[Image.Image]], max_batch: int, window: float,
                 name: str) -> None:
        self.run, self.max_batch, self.window = run, max_batch, window
        self.queue: queue.Queue[_Job] = queue.Queue()
        self.batch_sizes: list[int] = []
        self._held: list[_Job] = []  # jobs of another shape, next in line
        threading.Thread(target=self._loop, name=f"diffusers-{name}", daemon=True).start()

    def submit(self, job: _Job) -> Image.Image:
        self.queue.put(job)
        return job.future.result()

    def _next_batch(self) -> list[_Job]:
        first = self._held.pop(0) if self._held else self.queue.get()
        batch = [first]
        for job in [j for j in self._held if j.shape == first.shape][: self.max_batch - 1]:
            self._held.remove(job)
            batch.append(job)
        deadline = time.monotonic() + self.window
        while len(batch) < self.max_batch:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                job = self.queue.get(timeout=remaining)
            except queue.Empty:
                break
            (batch if job.shape == first.shape else self._held).append(job)
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            self.batch_sizes.append(len(batch))
            try:
                images = self.run(batch)
            except torch.cuda.OutOfMemoryError as exc:
                if len(batch) > 1:  # too big together: one at a time
                    log.warning("out of GPU memory with a batch of %d; running them one by one", len(batch))
                    for job in batch:
                        self._run_one(job)
                    continue
                batch[0].future.set_exception(TransientError(f"out of GPU memory: {exc}"))
            except BaseException as exc:  # handed to the waiting caller, who raises it
                for job in batch:
                    job.future.set_exception(exc)
            else:
                for job, image in zip(batch, images, strict=True):
                    job.future.set_result(image)

    def _run_one(self, job: _Job) -> None:
        try:
            job.future.set_result(self.run([job])[0])
        except torch.cuda.OutOfMemoryError as exc:
            job.future.set_exception(TransientError(f"out of GPU memory: {exc}"))
        except BaseException as exc:
            job.future.set_exception(exc)


@dataclass
class _Loaded:
    pipe: Any
    family: Family
    device: str
    batcher: _Batcher | None = None


_pipelines: dict[tuple[str, str, str, str], _Loaded] = {}
_load_lock = threading.Lock()


def _load(model: str, settings: Settings) -> _Loaded:
    """The process's pipeline for `model` on the configured device, loaded on first use."""
    source, class_name = locate(model, settings.diffusers_allow_download)
    device = _pick_device(settings.diffusers_device, settings.diffusers_require_gpu)
    family = detect_family(class_name, model)
    dtype = _pick_dtype(settings.diffusers_dtype, device, family)
    key = (source, device, str(dtype), settings.diffusers_variant or "")
    with _load_lock:
        if key in _pipelines:
            return _pipelines[key]
        from diffusers import AutoPipelineForText2Image, DiffusionPipeline

        if device == "cpu":
            log.warning("no CUDA GPU: running %s on the CPU, which is very slow for real models "
                        "(set AURA_DIFFUSERS_REQUIRE_GPU=true to fail instead)", model)
        options: dict[str, Any] = {"dtype": dtype, "local_files_only": not settings.diffusers_allow_download}
        if settings.diffusers_variant:
            options["variant"] = settings.diffusers_variant
        started = time.perf_counter()
        try:
            try:
                pipe = AutoPipelineForText2Image.from_pretrained(source, **options)
            except ValueError:  # a pipeline AutoPipeline does not map: load the class named in the index
                pipe = DiffusionPipeline.from_pretrained(source, **options)
        except OSError as exc:
            message = f"cannot load the diffusers model {model!r}: {_how_to_get(model)}"
            raise ConfigurationError(message) from exc
        pipe = pipe.to(device)
        pipe.set_progress_bar_config(disable=True)
        family = detect_family(type(pipe).__name__, model)
        log.info("loaded %s (%s, %s) on %s in %.1f s", model, type(pipe).__name__, dtype, device,
                 time.perf_counter() - started)
        loaded = _Loaded(pipe=pipe, family=family, device=device)
        batch = device.startswith("cuda") if settings.diffusers_batch is None else settings.diffusers_batch
        loaded.batcher = _Batcher(
            lambda jobs: _call(loaded, jobs), settings.diffusers_max_batch if batch else 1,
            settings.diffusers_batch_window_ms / 1000, Path(source).name,
        )
        _pipelines[key] = loaded
        return loaded


def _call(loaded: _Loaded, jobs: list[_Job]) -> list[Image.Image]:
    """One pipeline call for `jobs` (same shape), each image from its own seeded generator."""
    first = jobs[0]
    generators = [torch.Generator("cpu").manual_seed(job.seed) for job in jobs]
    with _device_lock(loaded.device), torch.inference_mode():
        result = loaded.pipe(
            prompt=[job.prompt for job in jobs], width=first.width, height=first.height,
            num_inference_steps=first.steps, guidance_scale=first.guidance, generator=generators,
            output_type="pil", **dict(loaded.family.extra),
        )
    return list(result.images)


class DiffusersImages:
    """Image provider `diffusers:<hub id or local folder>` (default AURA_DIFFUSERS_MODEL)."""

    def __init__(self, model: str = "", **_: Any) -> None:
        self.settings = get_settings()
        self.model = model or self.settings.diffusers_model
        self.loaded = _load(self.model, self.settings)

    @property
    def batch_sizes(self) -> list[int]:
        """How many images each pipeline call so far made (for tests and benchmarks)."""
        assert self.loaded.batcher is not None
        return self.loaded.batcher.batch_sizes

    def generate(self, request: ImageRequest, out_path: Path) -> Path:
        """Make the image for `request` (seeded by `request.seed`) and write it as a PNG at `out_path`."""
        family, settings = self.loaded.family, self.settings
        width, height = generation_size(request.width, request.height, settings.diffusers_size or family.side,
                                        family.multiple)
        job = _Job(
            prompt=request.prompt, seed=request.seed, width=width, height=height,
            steps=settings.diffusers_steps or family.steps,
            guidance=family.guidance if settings.diffusers_guidance is None else settings.diffusers_guidance,
        )
        assert self.loaded.batcher is not None
        image = self.loaded.batcher.submit(job)
        picture = cover(image.convert("RGB"), request.width, request.height)
        with atomic_path(out_path) as tmp:
            picture.save(tmp, format="PNG", compress_level=1)
        return out_path
