"""Which file a finished task is shown by, from the fields real proxies fill (or leave empty)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.midjourney.models import Task, TaskMedia

GRID = "https://cdn.example/grid.png"
PANELS = [f"https://cdn.midjourney.com/job/0_{i}.png" for i in range(4)]
VIDEOS = [f"https://cdn.example/v{i}.mp4" for i in range(4)]


@pytest.mark.parametrize(
    ("fields", "media"),
    [
        ({"imageUrl": GRID}, TaskMedia("image", GRID, 1)),
        # trueai fills imageUrls with the four CDN panels next to the grid: the grid wins.
        (
            {"imageUrl": GRID, "imageUrls": [{"url": u} for u in PANELS]},
            TaskMedia("image", GRID, 1),
        ),
        ({"imageUrl": "", "imageUrls": [GRID]}, TaskMedia("image", GRID, 1)),
        (
            {"imageUrl": "", "imageUrls": [{"url": GRID, "thumbnail": GRID}]},
            TaskMedia("image", GRID, 1),
        ),
        ({"imageUrl": " ", "imageUrls": PANELS}, TaskMedia("image", PANELS[0], 4)),
        (
            {"imageUrl": None, "imageUrls": [None, "", {"url": ""}, PANELS[2]]},
            TaskMedia("image", PANELS[2], 1),
        ),
        ({"imageUrl": ""}, TaskMedia("image", None, 0)),
        ({"imageUrls": None}, TaskMedia("image", None, 0)),
        # new-api always sends the video fields, empty for images.
        ({"imageUrl": GRID, "videoUrl": "", "videoUrls": None}, TaskMedia("image", GRID, 1)),
        (
            {"imageUrl": GRID, "videoUrl": VIDEOS[0], "videoUrls": VIDEOS},
            TaskMedia("video", VIDEOS[0], 4),
        ),
        (
            {"imageUrl": "", "videoUrl": "", "videoUrls": [{"url": u} for u in VIDEOS]},
            TaskMedia("video", VIDEOS[0], 4),
        ),
        ({"videoUrl": VIDEOS[1]}, TaskMedia("video", VIDEOS[1], 1)),
        ({"videoUrls": VIDEOS[2]}, TaskMedia("video", VIDEOS[2], 1)),
        ({"videoUrl": {"url": "x"}, "videoUrls": 5}, TaskMedia("image", None, 0)),
    ],
)
def test_task_media(fields: dict[str, Any], media: TaskMedia) -> None:
    task = Task.model_validate({"id": "1", "status": "SUCCESS", **fields})
    assert task.media == media
