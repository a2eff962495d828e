"""Vary Region masks; media sniffing, downloads and fitting live in `bot.media` (re-exported)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from types import MappingProxyType

from bot.media.download import MAX_REDIRECTS, download_image
from bot.media.fit import fit_to_size, fit_to_size_async
from bot.media.kinds import DownloadedImage, ImageError, sniff_image, to_data_url

__all__ = [
    "MAX_REDIRECTS",
    "REGION_PRESETS",
    "DownloadedImage",
    "ImageError",
    "download_image",
    "fit_to_size",
    "fit_to_size_async",
    "mask_data_url",
    "region_mask",
    "sniff_image",
    "to_data_url",
]

_MAX_MASK_SIDE = 8192


# ---- Vary Region masks -------------------------------------------------------------------

REGION_PRESETS: Mapping[str, str] = MappingProxyType(
    {
        "left": "Left half",
        "right": "Right half",
        "top": "Top half",
        "bottom": "Bottom half",
        "centre": "Centre",
        "top_left": "Top-left quarter",
        "top_right": "Top-right quarter",
        "bottom_left": "Bottom-left quarter",
        "bottom_right": "Bottom-right quarter",
    }
)


def _region_box(preset: str, width: int, height: int) -> tuple[int, int, int, int]:
    mid_x, mid_y = width // 2, height // 2
    boxes = {
        "left": (0, 0, mid_x, height),
        "right": (mid_x, 0, width, height),
        "top": (0, 0, width, mid_y),
        "bottom": (0, mid_y, width, height),
        "centre": (width // 4, height // 4, width - width // 4, height - height // 4),
        "top_left": (0, 0, mid_x, mid_y),
        "top_right": (mid_x, 0, width, mid_y),
        "bottom_left": (0, mid_y, mid_x, height),
        "bottom_right": (mid_x, mid_y, width, height),
    }
    return boxes[preset]


def region_mask(preset: str, width: int, height: int) -> bytes:
    """A `width`x`height` PNG, black with the preset's region white: the proxy's mask format."""
    if preset not in REGION_PRESETS:
        raise ValueError(f"unknown region preset: {preset!r}")
    if not (2 <= width <= _MAX_MASK_SIDE and 2 <= height <= _MAX_MASK_SIDE):
        raise ValueError(f"mask size out of range: {width}x{height}")
    from PIL import Image  # loads on the first mask, not at start-up

    mask = Image.new("RGB", (width, height), (0, 0, 0))
    mask.paste((255, 255, 255), _region_box(preset, width, height))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def mask_data_url(preset: str, width: int, height: int) -> str:
    """region_mask as a `data:image/png;base64,...` URL for submit/modal's maskBase64."""
    return to_data_url(region_mask(preset, width, height), "image/png")
