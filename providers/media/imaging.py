"""Image helpers shared by the image providers."""

from __future__ import annotations

from PIL import Image

__all__ = ["cover"]


def cover(img: Image.Image, width: int, height: int) -> Image.Image:
    """`img` cropped to the aspect of width:height around its centre, then resized to exactly that."""
    src_w, src_h = img.size
    scale = max(width / src_w, height / src_h)
    crop_w, crop_h = min(src_w, round(width / scale)), min(src_h, round(height / scale))
    left, top = (src_w - crop_w) // 2, (src_h - crop_h) // 2
    box = (left, top, left + crop_w, top + crop_h)
    return img.crop(box).resize((width, height), Image.Resampling.LANCZOS)
