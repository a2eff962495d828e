"""Fitting images to an upload limit."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.media.fit import fit_to_size, fit_to_size_async
from bot.media.kinds import ImageError, sniff_image
from tests.bot.media.helpers import PNG, encode, noise, png_of

# ---- fit to size -------------------------------------------------------------------------


def test_small_enough_is_returned_as_is() -> None:
    assert fit_to_size(PNG, "image/png", len(PNG)) == (PNG, "image/png", "png")
    jpeg = encode("JPEG")
    assert fit_to_size(jpeg, "image/jpeg", 10**6) == (jpeg, "image/jpeg", "jpg")


def test_extension_follows_the_content_not_the_claimed_mime() -> None:
    webp = encode("WEBP")
    assert fit_to_size(webp, "image/png", 10**6)[2] == "webp"


def test_reencoded_to_fit() -> None:
    big = png_of(noise((400, 300)))
    limit = len(big) // 4
    data, mime, ext = fit_to_size(big, "image/png", limit)
    assert len(data) <= limit
    assert (mime, ext, sniff_image(data)) == ("image/webp", "webp", "image/webp")
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == (400, 300)


def test_downscaled_when_quality_is_not_enough() -> None:
    big = png_of(noise((400, 300)))
    limit = 12_000
    data, _, _ = fit_to_size(big, "image/png", limit)
    assert len(data) <= limit
    with Image.open(io.BytesIO(data)) as image:
        width, height = image.size
    assert width < 400
    assert abs(width / height - 4 / 3) < 0.02


def test_transparency_is_kept() -> None:
    big = png_of(noise((200, 200), "RGBA"))
    data, _, _ = fit_to_size(big, "image/png", len(big) // 3)
    with Image.open(io.BytesIO(data)) as image:
        assert image.mode == "RGBA"


def test_animation_is_kept_when_it_fits() -> None:
    frames = [noise((120, 120), seed=n).convert("P") for n in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    gif = buffer.getvalue()
    data, mime, ext = fit_to_size(gif, "image/gif", len(gif) // 2)
    assert (mime, ext) == ("image/webp", "webp")
    assert len(data) <= len(gif) // 2
    with Image.open(io.BytesIO(data)) as image:
        assert getattr(image, "n_frames", 1) == 4


def test_impossible_limit() -> None:
    big = png_of(noise((100, 100)))
    with pytest.raises(ImageError) as info:
        fit_to_size(big, "image/png", 20)
    assert info.value.key == "image.cannot_fit"
    assert info.value.params == {"limit_bytes": 20}


def test_garbage_that_is_too_large() -> None:
    with pytest.raises(ImageError) as info:
        fit_to_size(b"\x89PNG\r\n\x1a\n" + b"garbage" * 100, "image/png", 100)
    assert info.value.key == "image.unreadable"


async def test_fit_to_size_async_matches() -> None:
    big = png_of(noise((200, 150)))
    limit = len(big) // 4
    assert await fit_to_size_async(big, "image/png", limit) == fit_to_size(big, "image/png", limit)
    assert await fit_to_size_async(PNG, "image/png", 10**6) == (PNG, "image/png", "png")


# ---- memory bombs, cut files, time and concurrency limits -------------------------------


def declared_png(width: int, height: int) -> bytes:
    """A valid greyscale PNG of width x height zero pixels, built row by row (a few hundred kB
    for 12000x12000: it would take 144 MB decoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    packer = zlib.compressobj(9)
    row = b"\x00" * (width + 1)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )


def test_a_pixel_bomb_over_the_limit_is_refused_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from PIL import ImageFile

    def no_decoding(self: object) -> None:
        raise AssertionError("the bomb was decoded")

    bomb = declared_png(12000, 12000)
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    with pytest.raises(ImageError) as info:
        fit_to_size(bomb, "image/png", len(bomb) // 2)
    assert info.value.key == "image.too_many_pixels"
    assert info.value.params == {"width": 12000, "height": 12000, "max_pixels": 40_000_000}


@pytest.mark.parametrize(
    ("cap", "decoded"), [(500_000, (800, 600)), (150_000, (400, 300)), (30_000, (200, 150))]
)
def test_a_large_jpeg_is_decoded_reduced(cap: int, decoded: tuple[int, int]) -> None:
    big = encode("JPEG", (1600, 1200))  # 1.92 Mpx: decoded at 1/2, 1/4 or 1/8 under the cap
    data, _, _ = fit_to_size(big, "image/jpeg", len(big) - 1, max_pixels=cap)
    with Image.open(io.BytesIO(data)) as image:
        assert image.size == decoded


def test_an_animation_too_large_in_all_its_frames_keeps_one() -> None:
    frames = [noise((120, 120), seed=n).convert("P") for n in range(4)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=100)
    gif = buffer.getvalue()
    data, _, _ = fit_to_size(gif, "image/gif", len(gif) // 2, max_pixels=3 * 120 * 120)
    with Image.open(io.BytesIO(data)) as image:
        assert getattr(image, "n_frames", 1) == 1


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_a_cut_image_under_the_limit_is_not_passed_on(fmt: str) -> None:
    whole = png_of(noise((64, 64))) if fmt == "PNG" else encode(fmt, (64, 64))
    assert fit_to_size(whole, "image/png", 10**6)[0] == whole
    with pytest.raises(ImageError) as info:
        fit_to_size(whole[: len(whole) * 2 // 3], "image/png", 10**6)
    assert info.value.key == "image.truncated"


def test_a_png_with_a_corrupt_chunk_is_not_passed_on() -> None:
    whole = bytearray(png_of(noise((32, 32))))
    whole[60] ^= 0xFF  # inside IDAT: the CRC no longer matches
    with pytest.raises(ImageError) as info:
        fit_to_size(bytes(whole), "image/png", 10**6)
    assert info.value.key == "image.truncated"


def test_fitting_stops_at_its_time_limit() -> None:
    big = png_of(noise((300, 300)))
    with pytest.raises(ImageError) as info:
        fit_to_size(big, "image/png", 2_000, seconds=0.0)
    assert info.value.key == "image.timeout"


async def test_at_most_two_decodes_run_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import asyncio
    import threading

    from bot.media import fit

    running, most = 0, 0
    lock, release = threading.Lock(), threading.Event()
    two_running = asyncio.Event()
    loop = asyncio.get_running_loop()

    def slow_fit(data: bytes, mime: str, limit: int, **_: object) -> tuple[bytes, str, str]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
            if running == 2:
                loop.call_soon_threadsafe(two_running.set)
        release.wait(10)
        with lock:
            running -= 1
        return b"x", "image/webp", "webp"

    monkeypatch.setattr(fit, "fit_to_size", slow_fit)
    big = png_of(noise((50, 50)))
    # Separate fitters and the plain function share the process's slots.
    fits = [fit.ImageFitter().fit(big, "image/png", 10) for _ in range(3)]
    fits += [fit.fit_to_size_async(big, "image/png", 10) for _ in range(2)]
    jobs = [asyncio.create_task(f) for f in fits]
    await asyncio.wait_for(two_running.wait(), 10)
    await asyncio.sleep(0.05)  # give a third decode the chance to start, if it could
    assert most == 2
    release.set()
    assert [await job for job in jobs] == [(b"x", "image/webp", "webp")] * 5
    assert most == 2
