"""Pillow PNG rendering of the simulator's grids, single panels and blurred previews."""

from __future__ import annotations

import hashlib
import io

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from .tasks import SimTask

_GRID_LONG_SIDE = 768
_UPSCALE_LONG_SIDE = 1024


def _size(aspect: tuple[int, int], long_side: int) -> tuple[int, int]:
    w, h = aspect
    if w >= h:
        return long_side, max(64, round(long_side * h / w))
    return max(64, round(long_side * w / h)), long_side


def _colour(seed: str, n: int) -> tuple[int, int, int]:
    digest = hashlib.sha256(f"{seed}:{n}".encode()).digest()
    return 60 + digest[0] % 150, 60 + digest[1] % 150, 60 + digest[2] % 150


def _draw_panel(
    image: Image.Image,
    box: tuple[int, int, int, int],
    colour: tuple[int, int, int],
    title: str,
    text: str,
) -> None:
    draw = ImageDraw.Draw(image)
    draw.rectangle(box, fill=colour)
    x0, y0, x1, _ = box
    width = x1 - x0
    font = ImageFont.load_default(size=max(12, width // 18))
    big = ImageFont.load_default(size=max(20, width // 6))
    draw.text((x0 + width // 16, y0 + width // 16), title, fill="white", font=big)
    chars = max(8, width // max(8, width // 30))
    lines = [text[i : i + chars] for i in range(0, min(len(text), chars * 6), chars)]
    y = y0 + width // 16 + width // 5
    for line in lines:
        draw.text((x0 + width // 16, y), line, fill="white", font=font)
        y += width // 14


def render_png(task: SimTask, preview_pct: int | None = None) -> bytes:
    """A small PNG: a 2x2 grid of coloured panels with the prompt, or one panel."""
    text = task.prompt or task.action.lower()
    if task.kind in ("grid",):
        w, h = _size(task.aspect, _GRID_LONG_SIDE)
        image = Image.new("RGB", (w, h), "black")
        for n in range(4):
            x, y = (n % 2) * w // 2, (n // 2) * h // 2
            box = (x, y, x + w // 2 - 1, y + h // 2 - 1)
            _draw_panel(image, box, _colour(task.job_hash, n), str(n + 1), text)
    else:
        w, h = _size(task.aspect, _UPSCALE_LONG_SIDE if task.kind == "upscale" else 512)
        image = Image.new("RGB", (w, h), "black")
        title = f"U{task.panel}" if task.kind == "upscale" else task.action.title()
        _draw_panel(image, (0, 0, w - 1, h - 1), _colour(task.job_hash, task.panel), title, text)
    if preview_pct is not None:
        image = image.resize((max(1, w // 4), max(1, h // 4))).filter(ImageFilter.GaussianBlur(3))
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=1)
    return out.getvalue()
