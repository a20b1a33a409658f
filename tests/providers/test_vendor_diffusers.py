"""The diffusers provider with tiny random SD and SDXL pipelines built here, loaded through its own code."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from providers.base import ImageRequest
from providers.errors import ConfigurationError
from providers.images import diffusers as diffusers_images
from providers.images.diffusers import FAMILIES, detect_family, generation_size, locate
from providers.registry import resolve


def _request(seed: int = 1, width: int = 96, height: int = 54,
             prompt: str = "a bee on a flower") -> ImageRequest:
    return ImageRequest(prompt=prompt, title="Bees", width=width, height=height, seed=seed)


def _pixels(path: Path) -> np.ndarray:
    with Image.open(path) as img:
        return np.asarray(img.convert("RGB"), dtype=np.int16)


def test_tiny_sd_makes_seeded_images_at_the_frame_size(tiny_sd: Path, diffusers_env: pytest.MonkeyPatch,
                                                       tmp_path: Path) -> None:
    provider = resolve("images", f"diffusers:{tiny_sd}")
    assert type(provider.loaded.pipe).__name__ == "StableDiffusionPipeline"
    assert provider.loaded.family.name == "sd" and provider.loaded.device == "cpu"
    a = provider.generate(_request(seed=1), tmp_path / "a.png")
    b = provider.generate(_request(seed=1), tmp_path / "b.png")
    c = provider.generate(_request(seed=2), tmp_path / "c.png")
    with Image.open(a) as img:
        assert img.size == (96, 54)
    assert np.array_equal(_pixels(a), _pixels(b))  # same seed, same image
    assert not np.array_equal(_pixels(a), _pixels(c))
    # loaded once per process: a second provider for the same model reuses the pipeline
    assert resolve("images", f"diffusers:{tiny_sd}").loaded is provider.loaded


def test_cpu_warning_is_logged_once_per_load(tiny_sd: Path, diffusers_env: pytest.MonkeyPatch,
                                             caplog: pytest.LogCaptureFixture) -> None:
    diffusers_images._pipelines.clear()
    with caplog.at_level(logging.WARNING, logger="providers.images.diffusers"):
        resolve("images", f"diffusers:{tiny_sd}")
        resolve("images", f"diffusers:{tiny_sd}")
    assert sum("on the CPU" in r.message for r in caplog.records) == 1


def test_tiny_sdxl_turbo_through_the_auto_pipeline(tiny_sdxl: Path, diffusers_env: pytest.MonkeyPatch,
                                                   tmp_path: Path) -> None:
    diffusers_env.delenv("AURA_DIFFUSERS_STEPS")
    from providers.settings import get_settings

    get_settings.cache_clear()
    provider = resolve("images", f"diffusers:{tiny_sdxl}")
    assert type(provider.loaded.pipe).__name__ == "StableDiffusionXLPipeline"
    assert provider.loaded.family.name == "sdxl-turbo"
    out = provider.generate(_request(width=64, height=112), tmp_path / "p.png")
    with Image.open(out) as img:
        assert img.size == (64, 112)
    assert _pixels(out).std() > 0  # a real picture, not a flat fill


def test_concurrent_requests_are_batched_into_one_call(tiny_sd: Path, diffusers_env: pytest.MonkeyPatch,
                                                        tmp_path: Path) -> None:
    diffusers_env.setenv("AURA_DIFFUSERS_BATCH", "true")
    diffusers_env.setenv("AURA_DIFFUSERS_BATCH_WINDOW_MS", "400")
    from providers.settings import get_settings

    get_settings.cache_clear()
    diffusers_images._pipelines.clear()
    provider = resolve("images", f"diffusers:{tiny_sd}")
    solo = provider.generate(_request(seed=5), tmp_path / "solo.png")
    threads = [threading.Thread(target=provider.generate, args=(_request(seed=s), tmp_path / f"{s}.png"))
               for s in (5, 6, 7)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert provider.batch_sizes == [1, 3]
    # the scene's seed decides its image, whatever it was batched with
    assert np.abs(_pixels(solo) - _pixels(tmp_path / "5.png")).max() <= 2
    assert not np.array_equal(_pixels(tmp_path / "6.png"), _pixels(tmp_path / "7.png"))
    diffusers_images._pipelines.clear()


def test_missing_hub_model_says_how_to_get_it(diffusers_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="huggingface-cli download aura-tests/no-such-model"):
        locate("aura-tests/no-such-model", allow_download=False)
    with pytest.raises(ConfigurationError, match="gated"):
        locate("black-forest-labs/aura-tests-flux", allow_download=False)
    with pytest.raises(ConfigurationError, match="no diffusers model at"):
        resolve("images", f"diffusers:{tmp_path / 'nowhere'}")


def test_gpu_only_fails_clearly_without_cuda(tiny_sd: Path, diffusers_env: pytest.MonkeyPatch) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    diffusers_env.setenv("AURA_DIFFUSERS_DEVICE", "auto")
    diffusers_env.setenv("AURA_DIFFUSERS_REQUIRE_GPU", "true")
    from providers.settings import get_settings

    get_settings.cache_clear()
    with pytest.raises(ConfigurationError, match="AURA_DIFFUSERS_REQUIRE_GPU"):
        resolve("images", f"diffusers:{tiny_sd}")


def test_family_defaults_and_sizes() -> None:
    assert detect_family("StableDiffusionXLPipeline", "stabilityai/sdxl-turbo").steps in range(1, 5)
    assert detect_family("StableDiffusionXLPipeline", "stabilityai/sdxl-turbo").guidance == 0
    schnell = detect_family("FluxPipeline", "black-forest-labs/FLUX.1-schnell")
    assert (schnell.steps, schnell.guidance, str(schnell.cuda_dtype)) == (4, 0.0, "torch.bfloat16")
    assert detect_family("StableDiffusionXLPipeline", "stabilityai/stable-diffusion-xl-base-1.0").steps >= 25
    assert detect_family("", "black-forest-labs/FLUX.1-schnell") is FAMILIES["flux-schnell"]
    assert generation_size(1280, 720, 512, 64) == (704, 384)
    assert generation_size(1080, 1920, 1024, 64) == (768, 1344)
    assert generation_size(720, 1280, 1024, 64) == (704, 1280)  # never more pixels than the frame
    assert generation_size(1080, 1080, 512, 8) == (512, 512)
    w, h = generation_size(1920, 1080, 1024, 16)
    assert w % 16 == 0 and h % 16 == 0 and abs(w / h - 16 / 9) < 0.05
