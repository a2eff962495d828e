"""What a file is, by its content: image and video sniffing, completeness, the media error."""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

IMAGE_EXTENSIONS = MappingProxyType(
    {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif", "image/webp": "webp"}
)
VIDEO_EXTENSIONS = MappingProxyType({"video/mp4": "mp4", "video/webm": "webm"})


class ImageError(Exception):
    """Media the bot cannot use: an i18n key with its parameters, and the English sentence."""

    def __init__(self, key: str, message: str, params: Mapping[str, object] | None = None) -> None:
        super().__init__(message)
        self.key = key
        self.message = message
        self.params: dict[str, object] = dict(params or {})


MediaError = ImageError


@dataclass(frozen=True, slots=True)
class DownloadedImage:
    """Downloaded media (an image or a video despite the name): bytes, sniffed type, final URL."""

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


def sniff_video(data: bytes) -> str | None:
    """`video/mp4` for an ISO media file (an `ftyp` box first), `video/webm`; None otherwise."""
    if len(data) >= 12 and data[4:8] == b"ftyp":
        size = struct.unpack(">I", data[:4])[0]
        if 8 <= size <= len(data):
            return "video/mp4"
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        return "video/webm"
    return None


def to_data_url(data: bytes, mime: str) -> str:
    """`data:<mime>;base64,...`, the form the proxy takes for uploads and masks."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def _png_complete(data: bytes) -> bool:
    """Every chunk whole with a matching CRC, up to IEND: no pixel is decoded."""
    at = 8
    while at + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        end = at + 12 + length
        if end > len(data):
            return False
        crc = struct.unpack(">I", data[end - 4 : end])[0]
        if zlib.crc32(data[at + 4 : end - 4]) != crc:
            return False
        if kind == b"IEND":
            return True
        at = end
    return False


def is_complete(data: bytes, mime: str) -> bool:
    """Whether an image's file structure is whole (a cut download is not), without decoding it."""
    if mime == "image/png":
        return _png_complete(data)
    tail = data.rstrip(b"\x00\r\n ")
    if mime == "image/jpeg":
        return tail.endswith(b"\xff\xd9")
    if mime == "image/gif":
        return tail.endswith(b";")
    if mime == "image/webp":
        return len(data) >= 12 and struct.unpack("<I", data[4:8])[0] + 8 <= len(data)
    return True
