"""What a finished job uploads: its media downloaded safely and fitted to the upload limit,
as plain values (bytes and a file name) the presenter turns into a Discord attachment."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bot.media.addresses import AddressGuard
from bot.media.download import download_image
from bot.media.fit import ImageFitter
from bot.media.kinds import VIDEO_EXTENSIONS, ImageError, sniff_video
from storage.records import JobRecord

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Upload:
    """A file to attach to the job message."""

    data: bytes
    filename: str
    reencoded: bool  # smaller than the original: the message links the original too


class FinalMedia:
    """Fetches a finished job's media (checked addresses, size and time limits) and fits it."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        proxy_base_url: str,
        max_download_bytes: int,
        timeout: float,
        guard: AddressGuard | None = None,
        fitter: ImageFitter | None = None,
        origin_of: Callable[[JobRecord], str] | None = None,
    ) -> None:
        self._client = client
        self._guard = guard or AddressGuard(proxy_base_url)
        # Servers may have their own proxies: the job's proxy's origin is the one allowed.
        self._origin_of = origin_of
        self._guards: dict[str, AddressGuard] = {proxy_base_url: self._guard}
        self._fitter = fitter or ImageFitter()
        self._max_bytes = max_download_bytes
        self._timeout = timeout

    async def upload_for(self, job: JobRecord, limit_bytes: int) -> Upload | None:
        """The file to upload for a successful job, or None (the message keeps the link)."""
        if not job.image_url:
            return None
        guard = self._guard_for(job)
        try:
            if job.media.kind == "video":
                return await self._video(job, job.image_url, limit_bytes, guard)
            return await self._image(job, job.image_url, limit_bytes, guard)
        except ImageError as exc:
            log.warning("job %s: the final %s cannot be uploaded: %s", job.id, job.media.kind, exc)
            return None

    def _guard_for(self, job: JobRecord) -> AddressGuard:
        origin = self._origin_of(job) if self._origin_of is not None else None
        if origin is None:
            return self._guard
        guard = self._guards.get(origin)
        if guard is None:
            # Another proxy than the operator's: a server's own, set with /mjadmin api set ("":
            # one whose private addresses are not allowed; that guard exempts no origin).
            setting = f"the own proxy of guild {job.guild_id}, /mjadmin api set"
            guard = self._guards[origin] = AddressGuard(origin, setting=setting)
        return guard

    def _name(self, job: JobRecord, ext: str) -> str:
        return f"mjbot_{job.task_id or job.id}.{ext}"

    async def _image(
        self, job: JobRecord, url: str, limit_bytes: int, guard: AddressGuard
    ) -> Upload:
        image = await download_image(
            self._client, url, max_bytes=self._max_bytes, timeout=self._timeout, guard=guard
        )
        data, _mime, ext = await self._fitter.fit(image.data, image.mime, limit_bytes)
        reencoded = data != image.data
        if reencoded:
            log.info(
                "job %s: image re-encoded to fit the upload limit (%d bytes)", job.id, limit_bytes
            )
        return Upload(data, self._name(job, ext), reencoded)

    async def _video(
        self, job: JobRecord, url: str, limit_bytes: int, guard: AddressGuard
    ) -> Upload:
        """Uploaded as it is (a video is never re-encoded): a larger one stays a link, and the
        download stops as soon as it passes the upload limit."""
        video = await download_image(
            self._client,
            url,
            max_bytes=min(self._max_bytes, limit_bytes),
            timeout=self._timeout,
            guard=guard,
            sniff=sniff_video,
        )
        return Upload(video.data, self._name(job, VIDEO_EXTENSIONS[video.mime]), False)
