"""A finished job's media kind and count: stored with the job, tolerant of old and odd rows."""

from __future__ import annotations

import pytest

from storage import Repositories
from storage.records import JobMedia
from tests.storage.support import new_job


async def test_media_is_stored_with_the_finished_job(repos: Repositories) -> None:
    video = await new_job(repos)
    await repos.jobs.mark_submitted(video.id, "task-v")
    await repos.jobs.complete(
        video.id, state="success", image_url="https://cdn/v.mp4", media=JobMedia("video", 4)
    )
    stored = await repos.jobs.get(video.id)
    assert stored is not None and stored.media == JobMedia("video", 4)
    plain = await new_job(repos)
    assert plain.media == JobMedia("image", 1)  # before the end, and for jobs of older versions
    await repos.jobs.complete(plain.id, state="failure", failure="x")
    done = await repos.jobs.get(plain.id)
    assert done is not None and done.media == JobMedia("image", 1)


@pytest.mark.parametrize(
    ("text", "media"),
    [
        (None, JobMedia()),
        ("", JobMedia()),
        ("not json", JobMedia()),
        ("[1, 2]", JobMedia()),
        ('{"kind": "video", "count": 4}', JobMedia("video", 4)),
        ('{"kind": "audio", "count": -3}', JobMedia("image", 1)),
        ('{"kind": "image", "count": "4"}', JobMedia("image", 1)),
    ],
)
def test_media_from_json(text: str | None, media: JobMedia) -> None:
    assert JobMedia.from_json(text) == media
    assert JobMedia.from_json(media.to_json()) == media
