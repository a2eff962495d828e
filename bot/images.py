"""Images: sniffing by content, limited downloads, re-encoding to fit uploads, Vary Region masks."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import httpx
from PIL import Image, features

_MIME_EXT = MappingProxyType(
    {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
)
_SCHEMES = frozenset({"http", "https"})
MAX_REDIRECTS = 5
_MAX_MASK_SIDE = 8192
# WebP cannot hold a side longer than this.
_WEBP_MAX_SIDE = 16383
_QUALITIES = (90, 80, 70, 60, 50, 40)
_SCALES = (0.75, 0.5, 0.35, 0.25, 0.15, 0.1)
_SMALLEST_SIDE = 16


class ImageError(Exception):
    """An image the bot cannot use: an i18n key with its parameters, and the English sentence."""

    def __init__(self, key: str, message: str, params: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.params: dict[str, object] = dict(params or {})


@dataclass(frozen=True, slots=True)
class DownloadedImage:
    data: bytes
    mime: str
    url: str


def sniff_image(data: bytes) -> str | None:
    """The MIME type of PNG, JPEG, GIF or WebP data, from its magic bytes; None otherwise."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def to_data_url(data: bytes, mime: str) -> str:
    """`data:<mime>;base64,...`, the form the proxy takes for uploads and masks."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


# ---- download ----------------------------------------------------------------------------


def _checked_url(url: str) -> httpx.URL:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ImageError("image.bad_url", "The image address is not a valid URL.") from None
    if parsed.scheme.lower() not in _SCHEMES or not parsed.host:
        raise ImageError(
            "image.bad_url",
            "Only http and https image addresses can be downloaded.",
            {"scheme": parsed.scheme},
        )
    return parsed


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    try:
        target = current.join(location)
    except (httpx.InvalidURL, TypeError, ValueError):
        raise ImageError(
            "image.bad_url", "The image address redirects to an invalid URL."
        ) from None
    return _checked_url(str(target))


def _too_large(max_bytes: int) -> ImageError:
    mib = f"{max_bytes / 1024 / 1024:.1f}"
    return ImageError(
        "image.too_large", f"The image is larger than {mib} MiB.", {"limit_bytes": max_bytes}
    )


async def _fetch(client: httpx.AsyncClient, url: httpx.URL, max_bytes: int) -> DownloadedImage:
    current = url
    for _ in range(MAX_REDIRECTS + 1):
        async with client.stream("GET", current, follow_redirects=False) as response:
            if response.is_redirect:
                # Each hop is checked, so a redirect cannot lead to file:// or ftp://.
                current = _redirect_target(current, response.headers["location"])
                continue
            if not response.is_success:
                raise ImageError(
                    "image.http_status",
                    f"The image server answered HTTP {response.status_code}.",
                    {"status": response.status_code},
                )
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise _too_large(max_bytes)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > max_bytes:
                    raise _too_large(max_bytes)
        data = bytes(body)
        mime = sniff_image(data)
        if mime is None:
            raise ImageError("image.not_an_image", "The downloaded file is not an image.")
        return DownloadedImage(data, mime, str(current))
    raise ImageError("image.redirects", "The image address redirects too many times.")


async def download_image(
    client: httpx.AsyncClient,
    url: str,
    *,
    max_bytes: int,
    timeout: float,  # noqa: ASYNC109 - one limit for all hops and the body, applied inside
) -> DownloadedImage:
    """An http(s) image of at most `max_bytes` bytes and `timeout` seconds, checked by content."""
    start = _checked_url(url)
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(client, start, max_bytes)
    except (TimeoutError, httpx.TimeoutException):
        raise ImageError(
            "image.timeout",
            f"The image download took longer than {timeout:g} seconds.",
            {"seconds": timeout},
        ) from None
    except httpx.HTTPError as exc:
        raise ImageError(
            "image.download_failed",
            f"The image could not be downloaded ({type(exc).__name__}).",
        ) from None


# ---- fit to an upload limit --------------------------------------------------------------


def _extension(data: bytes, mime: str) -> str:
    return _MIME_EXT.get(sniff_image(data) or mime, "png")


def _encoder() -> tuple[str, str]:
    return ("WEBP", "image/webp") if features.check("webp") else ("JPEG", "image/jpeg")


def _encode(image: Image.Image, fmt: str, quality: int) -> bytes:
    buffer = io.BytesIO()
    if fmt == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")
    image.save(buffer, fmt, quality=quality)
    return buffer.getvalue()


def _still(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    frame = image.convert("RGBA" if has_alpha else "RGB")
    longest = max(frame.size)
    if longest > _WEBP_MAX_SIDE:
        scale = _WEBP_MAX_SIDE / longest
        frame = frame.resize(_scaled(frame.size, scale), Image.Resampling.LANCZOS)
    return frame


def _scaled(size: tuple[int, int], scale: float) -> tuple[int, int]:
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _fit_animation(image: Image.Image, limit: int) -> bytes | None:
    for quality in (70, 50, 30):
        buffer = io.BytesIO()
        image.save(buffer, "WEBP", save_all=True, quality=quality)
        if buffer.tell() <= limit:
            return buffer.getvalue()
    return None


def _fit_still(frame: Image.Image, fmt: str, limit: int) -> bytes | None:
    for quality in _QUALITIES:
        encoded = _encode(frame, fmt, quality)
        if len(encoded) <= limit:
            return encoded
    for scale in _SCALES:
        size = _scaled(frame.size, scale)
        if min(size) < _SMALLEST_SIDE:
            break
        smaller = frame.resize(size, Image.Resampling.LANCZOS)
        for quality in (80, 60):
            encoded = _encode(smaller, fmt, quality)
            if len(encoded) <= limit:
                return encoded
    return None


def fit_to_size(data: bytes, mime: str, limit_bytes: int) -> tuple[bytes, str, str]:
    """(data, mime, file extension) within `limit_bytes`: as-is, re-encoded or downscaled."""
    if len(data) <= limit_bytes:
        return data, mime, _extension(data, mime)
    fmt, out_mime = _encoder()
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            if getattr(image, "is_animated", False) and fmt == "WEBP":
                animated = _fit_animation(image, limit_bytes)
                if animated is not None:
                    return animated, out_mime, "webp"
                image.seek(0)
            encoded = _fit_still(_still(image), fmt, limit_bytes)
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        raise ImageError("image.unreadable", "The image could not be read.") from None
    if encoded is None:
        raise ImageError(
            "image.cannot_fit",
            f"The image cannot be made smaller than {limit_bytes} bytes.",
            {"limit_bytes": limit_bytes},
        )
    return encoded, out_mime, _MIME_EXT[out_mime]


async def fit_to_size_async(data: bytes, mime: str, limit_bytes: int) -> tuple[bytes, str, str]:
    """fit_to_size in a worker thread, so Pillow does not block the event loop."""
    if len(data) <= limit_bytes:
        return data, mime, _extension(data, mime)
    return await asyncio.to_thread(fit_to_size, data, mime, limit_bytes)


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
    mask = Image.new("RGB", (width, height), (0, 0, 0))
    mask.paste((255, 255, 255), _region_box(preset, width, height))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


def mask_data_url(preset: str, width: int, height: int) -> str:
    """region_mask as a `data:image/png;base64,...` URL for submit/modal's maskBase64."""
    return to_data_url(region_mask(preset, width, height), "image/png")
