"""Fitting an image to an upload limit: as-is when whole and small enough, else re-encoded or
downscaled, never decoding more than a pixel cap, within a time limit, two decodes at a time."""

from __future__ import annotations

import asyncio
import io
import time
import warnings
import weakref
from typing import TYPE_CHECKING

from bot.media.kinds import IMAGE_EXTENSIONS, ImageError, is_complete, sniff_image

if TYPE_CHECKING:
    # Pillow loads on the first image that must be decoded, not at start-up.
    from PIL import Image

# Decoding costs about 4 bytes a pixel: 40 Mpx is 160 MB, over twice Midjourney's 4x upscale.
PIXEL_CAP = 40_000_000
DECODE_SECONDS = 30.0
CONCURRENT_DECODES = 2
# WebP cannot hold a side longer than this.
_WEBP_MAX_SIDE = 16383
_QUALITIES = (90, 80, 70, 60, 50, 40)
_SCALES = (0.75, 0.5, 0.35, 0.25, 0.15, 0.1)
_SMALLEST_SIDE = 16


def _extension(data: bytes, mime: str) -> str:
    return IMAGE_EXTENSIONS.get(sniff_image(data) or mime, "png")


def _encoder() -> tuple[str, str]:
    from PIL import features

    return ("WEBP", "image/webp") if features.check("webp") else ("JPEG", "image/jpeg")


class _Deadline:
    def __init__(self, seconds: float | None) -> None:
        self._seconds = seconds
        self._end = None if seconds is None else time.monotonic() + seconds

    def check(self) -> None:
        if self._end is not None and time.monotonic() > self._end:
            raise ImageError(
                "image.timeout",
                f"Fitting the image took longer than {self._seconds:g} seconds.",
                {"seconds": self._seconds},
            )


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")
    image.save(buffer, fmt, quality=quality)
    return buffer.getvalue()


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _still(image: Image.Image) -> Image.Image:
    from PIL import Image

    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    mode = "RGBA" if has_alpha else "RGB"
    frame = image if image.mode == mode else image.convert(mode)  # no copy when it is already
    longest = max(frame.size)
    if longest > _WEBP_MAX_SIDE:
        scale = _WEBP_MAX_SIDE / longest
        frame = frame.resize(_scaled(frame.size, scale), Image.Resampling.LANCZOS)
    return frame


def _fit_animation(image: Image.Image, limit: int, deadline: _Deadline) -> bytes | None:
    for quality in (70, 50, 30):
        deadline.check()
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", save_all=True, quality=quality)
        if buffer.tell() <= limit:
            return buffer.getvalue()
    return None


def _fit_still(frame: Image.Image, fmt: str, limit: int, deadline: _Deadline) -> bytes | None:
    from PIL import Image

    for quality in _QUALITIES:
        deadline.check()
        encoded = _encode(frame, fmt, quality)
        if len(encoded) <= limit:
            return encoded
    for scale in _SCALES:
        size = _scaled(frame.size, scale)
        if min(size) < _SMALLEST_SIDE:
            break
        deadline.check()
        smaller = frame.resize(size, Image.Resampling.LANCZOS)
        for quality in (80, 60):
            encoded = _encode(smaller, fmt, quality)
            if len(encoded) <= limit:
                return encoded
    return None


def _too_many_pixels(width: int, height: int, max_pixels: int) -> ImageError:
    return ImageError(
        "image.too_many_pixels",
        f"The image declares {width}x{height} pixels, more than the {max_pixels} the bot decodes.",
        {"width": width, "height": height, "max_pixels": max_pixels},
    )


def _reduce_on_decode(image: Image.Image, max_pixels: int) -> None:
    """Shrink a too-large image while decoding (JPEG draft: 1/2, 1/4, 1/8), else refuse it;
    only its header has been read so far."""
    width, height = image.size
    if width * height <= max_pixels:
        return
    if image.format == "JPEG":
        for scale in (2, 4, 8):
            size = (-(-width // scale), -(-height // scale))
            if size[0] * size[1] <= max_pixels:
                # draft picks the largest reduction whose result is at least `size`
                image.draft(image.mode, size)
                if image.size[0] * image.size[1] <= max_pixels:
                    return
                break
    raise _too_many_pixels(width, height, max_pixels)


def fit_to_size(
    data: bytes,
    mime: str,
    limit_bytes: int,
    *,
    max_pixels: int = PIXEL_CAP,
    seconds: float | None = DECODE_SECONDS,
) -> tuple[bytes, str, str]:
    """(data, mime, file extension) within `limit_bytes`: as-is, re-encoded or downscaled.

    A file within the limit is not decoded (a bomb under the limit costs nothing), but it must
    be whole: a cut download would show as a broken picture. A larger one is decoded only up to
    `max_pixels` (the declared size is read first) and within `seconds`.
    """
    if len(data) <= limit_bytes:
        actual = sniff_image(data) or mime
        if not is_complete(data, actual):
            raise ImageError("image.truncated", "The image file is incomplete.")
        return data, mime, _extension(data, mime)
    from PIL import Image

    deadline = _Deadline(seconds)
    fmt, out_mime = _encoder()
    try:
        with warnings.catch_warnings():
            # The size is checked below against our own, lower cap.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError:
        raise ImageError(
            "image.too_many_pixels",
            "The image declares far more pixels than the bot decodes.",
            {"max_pixels": max_pixels},
        ) from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise ImageError("image.unreadable", "The image could not be read.") from None
    try:
        with opened as image:
            _reduce_on_decode(image, max_pixels)
            frames = getattr(image, "n_frames", 1)
            animated = getattr(image, "is_animated", False) and fmt == "WEBP"
            if animated and frames * image.size[0] * image.size[1] <= max_pixels:
                image.load()
                deadline.check()
                encoded = _fit_animation(image, limit_bytes, deadline)
                if encoded is not None:
                    return encoded, out_mime, "webp"
                image.seek(0)
            image.load()
            deadline.check()
            encoded = _fit_still(_still(image), fmt, limit_bytes, deadline)
    except (OSError, ValueError, SyntaxError, EOFError):
        raise ImageError("image.unreadable", "The image could not be read.") from None
    if encoded is None:
        raise ImageError(
            "image.cannot_fit",
            f"The image cannot be made smaller than {limit_bytes} bytes.",
            {"limit_bytes": limit_bytes},
        )
    return encoded, out_mime, IMAGE_EXTENSIONS[out_mime]


# One set of decode slots per event loop for the whole process, whoever asks for a fit.
_LOOP_SLOTS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)


def _shared_slots() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    slots = _LOOP_SLOTS.get(loop)
    if slots is None:
        slots = _LOOP_SLOTS[loop] = asyncio.Semaphore(CONCURRENT_DECODES)
    return slots


class ImageFitter:
    """fit_to_size in worker threads, at most CONCURRENT_DECODES at once in the process (each
    may hold up to PIXEL_CAP pixels in memory), so Pillow neither blocks the event loop nor piles
    up; `concurrency` gives a fitter slots of its own instead."""

    def __init__(
        self,
        *,
        concurrency: int | None = None,
        max_pixels: int = PIXEL_CAP,
        seconds: float = DECODE_SECONDS,
    ) -> None:
        self._own_slots = None if concurrency is None else asyncio.Semaphore(concurrency)
        self.max_pixels = max_pixels
        self.seconds = seconds

    async def fit(self, data: bytes, mime: str, limit_bytes: int) -> tuple[bytes, str, str]:
        if len(data) <= limit_bytes:
            # No decoding, only a structure check (CRCs of up to the upload limit in bytes).
            return await asyncio.to_thread(fit_to_size, data, mime, limit_bytes)
        async with self._own_slots or _shared_slots():
            # The slot is held until the thread ends, even if the caller is cancelled.
            worker = asyncio.ensure_future(
                asyncio.to_thread(
                    fit_to_size,
                    data,
                    mime,
                    limit_bytes,
                    max_pixels=self.max_pixels,
                    seconds=self.seconds,
                )
            )
            try:
                return await asyncio.shield(worker)
            except asyncio.CancelledError:
                await asyncio.wait([worker])
                raise


async def fit_to_size_async(data: bytes, mime: str, limit_bytes: int) -> tuple[bytes, str, str]:
    """fit_to_size off the event loop, in the process's shared decode slots."""
    return await ImageFitter().fit(data, mime, limit_bytes)
