"""User-uploaded images: checked by size and by content (never by file name) before use."""

from __future__ import annotations

import discord

from bot.errors import UserFacingError
from bot.images import sniff_image, to_data_url


async def image_data_url(attachment: discord.Attachment, max_bytes: int) -> str:
    """The attachment as a data URL, or a refusal that names the file."""
    if attachment.size > max_bytes:
        raise UserFacingError(
            "image.too_large", name=attachment.filename, limit=f"{max_bytes / 1024 / 1024:.3g}"
        )
    try:
        data = await attachment.read()
    except (discord.HTTPException, discord.NotFound):
        raise UserFacingError("image.unreadable", name=attachment.filename) from None
    if len(data) > max_bytes:
        raise UserFacingError(
            "image.too_large", name=attachment.filename, limit=f"{max_bytes / 1024 / 1024:.3g}"
        )
    mime = sniff_image(data)
    if mime is None:
        raise UserFacingError("image.not_an_image", name=attachment.filename)
    return to_data_url(data, mime)
