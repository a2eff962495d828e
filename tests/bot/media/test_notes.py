"""What a finished job's message says about its media."""

from __future__ import annotations

import pytest

from bot.media.notes import media_lines
from storage.records import JobMedia
from tests.bot.factories import job

URL = "https://cdn.example/1.png"


@pytest.mark.parametrize(
    ("fields", "lines"),
    [
        ({"image_url": URL, "attachment_url": "https://discord/a.png"}, []),
        ({"image_url": URL}, [f"Image: {URL}"]),
        ({"image_url": URL, "attachment_url": ""}, [f"Image: {URL}"]),
        (
            {"image_url": URL, "attachment_url": "x", "media": JobMedia("image", 4)},
            ["The image service sent 4 separate images; this is the first."],
        ),
        ({"image_url": None}, ["⚠️ The image service reported the job as done but sent no image."]),
        (
            {"image_url": None, "media": JobMedia("video", 1)},
            ["⚠️ The image service reported the job as done but sent no video."],
        ),
        (
            {"image_url": "https://v/1.mp4", "attachment_url": "", "media": JobMedia("video", 4)},
            [
                "The image service made 4 videos; this is the first.",
                "🎞️ Video: https://v/1.mp4 (too large to upload here, or it could not be fetched;"
                " the link expires after a while)",
            ],
        ),
    ],
)
def test_media_lines(fields: dict[str, object], lines: list[str]) -> None:
    assert media_lines(job(state="success", **fields), "en") == lines


def test_media_lines_in_chinese() -> None:
    [line] = media_lines(job(state="success", image_url=None), "zh-CN")
    assert "没有发送图片" in line
