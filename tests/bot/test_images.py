"""Vary Region masks."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import pytest
from PIL import Image

from bot.images import REGION_PRESETS, mask_data_url, region_mask, sniff_image

# ---- region masks ------------------------------------------------------------------------

W, H = 8, 6


def pixels(preset: str) -> Iterator[tuple[int, int, bool]]:
    data = region_mask(preset, W, H)
    assert sniff_image(data) == "image/png"
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (W, H)
        rgb = image.convert("RGB")
        for y in range(H):
            for x in range(W):
                value = rgb.getpixel((x, y))
                assert value in ((0, 0, 0), (255, 255, 255)), value
                yield x, y, value == (255, 255, 255)


@pytest.mark.parametrize(
    ("preset", "inside"),
    [
        ("left", lambda x, y: x < 4),
        ("right", lambda x, y: x >= 4),
        ("top", lambda x, y: y < 3),
        ("bottom", lambda x, y: y >= 3),
        ("centre", lambda x, y: 2 <= x < 6 and 1 <= y < 5),
        ("top_left", lambda x, y: x < 4 and y < 3),
        ("top_right", lambda x, y: x >= 4 and y < 3),
        ("bottom_left", lambda x, y: x < 4 and y >= 3),
        ("bottom_right", lambda x, y: x >= 4 and y >= 3),
    ],
)
def test_region_mask(preset: str, inside: object) -> None:
    assert callable(inside)
    for x, y, white in pixels(preset):
        assert white == inside(x, y), (preset, x, y)


def test_every_preset_has_a_label_and_a_mask() -> None:
    assert len(REGION_PRESETS) == 9
    for preset, label in REGION_PRESETS.items():
        assert label
        assert any(white for _, _, white in pixels(preset))
        assert not all(white for _, _, white in pixels(preset))


def test_odd_sizes_split_without_gaps_or_overlap() -> None:
    def mask(preset: str) -> list[bool]:
        with Image.open(io.BytesIO(region_mask(preset, 7, 5))) as image:
            rgb = image.convert("RGB")
            return [rgb.getpixel((x, y)) == (255, 255, 255) for y in range(5) for x in range(7)]

    for a, b in (("left", "right"), ("top", "bottom")):
        assert [p != q for p, q in zip(mask(a), mask(b), strict=True)] == [True] * 35
    quarters = [mask(q) for q in ("top_left", "top_right", "bottom_left", "bottom_right")]
    assert [sum(column) for column in zip(*quarters, strict=True)] == [1] * 35


def test_mask_data_url() -> None:
    url = mask_data_url("left", 64, 32)
    prefix = "data:image/png;base64,"
    assert url.startswith(prefix)
    assert base64.b64decode(url[len(prefix) :]) == region_mask("left", 64, 32)


@pytest.mark.parametrize(
    ("preset", "width", "height"),
    [("nowhere", 10, 10), ("left", 0, 10), ("left", 10, 1), ("left", 10_000, 10)],
)
def test_mask_refuses_bad_input(preset: str, width: int, height: int) -> None:
    with pytest.raises(ValueError):
        region_mask(preset, width, height)
