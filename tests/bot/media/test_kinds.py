"""Sniffing images and videos by content, completeness without decoding."""

from __future__ import annotations

import base64

import pytest

from bot.media.kinds import sniff_image, to_data_url
from tests.bot.media.helpers import encode

# ---- sniffing ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp")],
)
def test_sniff_real_images(fmt: str, mime: str) -> None:
    assert sniff_image(encode(fmt)) == mime


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PN",
        b"%PDF-1.7\n...",
        b"<html><body>not an image</body></html>",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"RIFF\x00",
        b"hello.png",
        b"GIF88a",
    ],
)
def test_sniff_rejects_what_is_not_an_image(data: bytes) -> None:
    assert sniff_image(data) is None


def test_to_data_url() -> None:
    url = to_data_url(b"\x00\x01abc", "image/png")
    assert url == "data:image/png;base64," + base64.b64encode(b"\x00\x01abc").decode()
