"""A finished job's image fetched again: from its Discord message, its stored copy, or the proxy.

Used by /show (post the job again) and ✉️ (send it by DM). The message's own attachment comes
first (Discord hands out fresh links with the message); once the message is deleted, its
attachment is gone from Discord's CDN too, and the proxy's address is the last resort.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import discord

from bot.media.download import download_image
from bot.media.final import FinalMedia
from bot.media.fit import fit_to_size_async
from bot.media.kinds import ImageError
from bot.members import Located

if TYPE_CHECKING:
    from bot.runtime import Services

log = logging.getLogger(__name__)

Source = Literal["message", "copy", "proxy"]


@dataclass(frozen=True)
class JobImage:
    data: bytes
    ext: str
    source: Source

    def file(self, job_id: int) -> discord.File:
        return discord.File(io.BytesIO(self.data), filename=f"mjbot_{job_id}.{self.ext}")


async def _live_attachment(
    services: Services, client: discord.Client, located: Located
) -> tuple[str | None, bool]:
    """(URL of the job message's attachment, whether the message still exists)."""
    record = located.message
    if record is None:
        return None, False
    channel = client.get_partial_messageable(record.channel_id, guild_id=record.guild_id)
    try:
        message = await channel.fetch_message(record.message_id)
    except discord.NotFound:
        await services.members.forget_message(record.message_id)
        return None, False
    except discord.HTTPException as exc:
        log.warning("job %s: could not read its message: %s", located.job.id, exc)
        return None, True
    return (message.attachments[0].url if message.attachments else None), True


async def fetch_job_image(
    services: Services, client: discord.Client, located: Located, limit: int
) -> tuple[JobImage | None, bool]:
    """The job's image fitted to `limit` bytes (or None), and whether its message still exists."""
    job = located.job
    live, exists = await _live_attachment(services, client, located)
    discord_copies: list[tuple[Source, str]] = []
    if live:
        discord_copies.append(("message", live))
    if job.attachment_url and job.attachment_url != live:
        discord_copies.append(("copy", job.attachment_url))
    jobs = services.settings.jobs
    max_bytes = int(jobs.download_max_mb * 1024 * 1024)
    for source, url in discord_copies:
        # Discord's own CDN (the addresses Discord gave the bot): no proxy address guard.
        try:
            image = await download_image(
                services.downloads, url, max_bytes=max_bytes, timeout=jobs.download_timeout_seconds
            )
            data, _mime, ext = await fit_to_size_async(image.data, image.mime, limit)
        except ImageError as exc:
            log.info("job %s: its image is not at its %s address: %s", job.id, source, exc)
            continue
        return JobImage(data, ext, source), exists
    # The proxy's address, fetched the way the final image is (checked addresses, limits).
    media = FinalMedia(
        services.downloads,
        proxy_base_url=services.proxies.origin_of(job),  # the job's own proxy (issue 15)
        max_download_bytes=max_bytes,
        timeout=jobs.download_timeout_seconds,
    )
    upload = await media.upload_for(job, limit)
    if upload is None:
        return None, exists
    return JobImage(upload.data, upload.filename.rpartition(".")[2], "proxy"), exists
