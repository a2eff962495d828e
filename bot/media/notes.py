"""The lines a finished job's message shows about its media: pure, for bot/render.py."""

from __future__ import annotations

from bot.i18n import t
from storage.records import JobRecord


def media_lines(job: JobRecord, locale: str) -> list[str]:
    """What to say under a successful job: no media at all, the first of several files, or the
    link when the file is not (or not yet) attached."""
    video = job.media.kind == "video"
    if not job.image_url:
        return [t(locale, "media.no_video" if video else "media.no_image")]
    lines: list[str] = []
    if job.media.count > 1:
        key = "media.first_of_videos" if video else "media.first_of_images"
        lines.append(t(locale, key, count=job.media.count))
    if not job.attachment_url:
        key = "media.video_link" if video else "job.image_link"
        lines.append(t(locale, key, url=job.image_url))
    return lines
