"""Tiny randomly initialised Stable Diffusion and SDXL pipelines, built offline and saved to a folder.

They have the real components (CLIP tokenizer and text encoders, UNet, VAE with a scale factor of
8, scheduler) at toy sizes, so that a provider's loading and calling code runs for real on the CPU
in a fraction of a second per 64 px image. With transformers 5 the tokenizer is made by writing
`vocab.json` and `merges.txt` to a folder and loading that folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

__all__ = ["build_tiny_sd", "build_tiny_sdxl"]

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _bytes_to_unicode() -> list[str]:
    bs = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def _tokenizer(folder: Path):  # type: ignore[no-untyped-def]
    from transformers import CLIPTokenizer

    chars = _bytes_to_unicode()
    merges = ["t h", "th e</w>", "a n", "an d</w>", "o f</w>", "i n", "e r</w>"]
    vocab_list = chars + [c + "</w>" for c in chars] + [m.replace(" ", "") for m in merges]
    vocab_list += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({tok: i for i, tok in enumerate(vocab_list)}))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    return CLIPTokenizer.from_pretrained(str(folder), model_max_length=77)


def _vae():  # type: ignore[no-untyped-def]
    from diffusers import AutoencoderKL

    # four blocks: a scale factor of 8 like the real VAE, so 64 px is an 8×8 latent
    return AutoencoderKL(
        block_out_channels=[16, 16, 32, 32], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
        latent_channels=4, norm_num_groups=16, layers_per_block=1, sample_size=64,
    )


def _text_config(tok, **extra):  # type: ignore[no-untyped-def]
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
        max_position_embeddings=77, projection_dim=32, bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id, **extra,
    )


def build_tiny_sd(out: Path) -> Path:
    """A tiny SD 1.x-style pipeline saved in `out`."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel

    tok = _tokenizer(out.with_name(out.name + "-tokenizer"))
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, norm_num_groups=32,
    )
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(
        vae=_vae(), text_encoder=CLIPTextModel(_text_config(tok)), tokenizer=tok, unet=unet,
        scheduler=scheduler,
        safety_checker=None, feature_extractor=None, requires_safety_checker=False,
    )
    pipe.save_pretrained(str(out))  # type: ignore[attr-defined]
    return out


def build_tiny_sdxl(out: Path) -> Path:
    """A tiny SDXL pipeline (two text encoders, turbo-style scheduler) saved in `out`."""
    import torch
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection

    tok = _tokenizer(out.with_name(out.name + "-tokenizer"))
    torch.manual_seed(0)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64), layers_per_block=1, sample_size=8, in_channels=4, out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), attention_head_dim=(2, 4),
        use_linear_projection=True, addition_embed_type="text_time",
        addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
        projection_class_embeddings_input_dim=32 + 6 * 8,  # pooled text (32) + six time ids × 8
        cross_attention_dim=64,  # the two encoders' hidden states side by side
        norm_num_groups=32,
    )
    scheduler = EulerDiscreteScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                                       timestep_spacing="trailing", steps_offset=1)
    pipe = StableDiffusionXLPipeline(
        vae=_vae(), text_encoder=CLIPTextModel(_text_config(tok, hidden_act="gelu")),
        text_encoder_2=CLIPTextModelWithProjection(_text_config(tok, hidden_act="gelu")),
        tokenizer=tok, tokenizer_2=tok, unet=unet, scheduler=scheduler, force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(str(out))  # type: ignore[attr-defined]
    return out
