"""The one error boundary for commands, buttons and modals: expected errors become messages."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import discord
from discord import app_commands

from bot.errors import UserFacingError
from bot.i18n import t
from bot.safety import redact
from storage.db import StorageError, StorageUnavailable

# Words of a storage error that mean the database cannot be written now (not a bug in a statement).
_STORAGE_TROUBLE = ("locked", "busy", "full", "disk i/o", "readonly", "read-only")


def storage_trouble(error: BaseException) -> bool:
    """The database is locked past its busy timeout, full, read-only or unreachable."""
    if isinstance(error, StorageUnavailable):
        return True
    if isinstance(error, StorageError):
        text = str(error).lower()
        return any(word in text for word in _STORAGE_TROUBLE)
    return False


log = logging.getLogger(__name__)


def locale_of(interaction: discord.Interaction[Any]) -> str:
    """The interaction's locale, falling back to the guild's (resolved by the catalogue)."""
    from bot.i18n import resolve_locale

    return resolve_locale(
        str(interaction.locale) if interaction.locale else None,
        str(interaction.guild_locale) if interaction.guild_locale else None,
    )


# Set in `interaction.extras` when the deferred answer shows only a placeholder ("Starting your
# job…"): the next message to the member replaces it instead of adding one.
PLACEHOLDER = "mjbot_placeholder"


async def tell(interaction: discord.Interaction[Any], text: str, *, ephemeral: bool = True) -> None:
    """Answer the interaction with `text`, whether or not it was acknowledged already.

    Configured secrets are redacted, and nobody is pinged."""
    text = redact(text)
    try:
        if interaction.extras.pop(PLACEHOLDER, False):
            await interaction.edit_original_response(content=text)
        elif interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=ephemeral)
        else:
            await interaction.response.send_message(text, ephemeral=ephemeral)
    except discord.HTTPException:
        log.warning("could not send a message for interaction %s", interaction.id)


async def report(interaction: discord.Interaction[Any], error: BaseException) -> None:
    """Turn `error` into a polite message; log what was not expected."""
    if isinstance(error, app_commands.CommandInvokeError):
        error = error.original
    locale = locale_of(interaction)
    if isinstance(error, UserFacingError):
        await tell(interaction, t(locale, error.key, **error.params))
        return
    if isinstance(error, app_commands.MissingPermissions | app_commands.CheckFailure):
        await tell(interaction, t(locale, "errors.not_allowed"))
        return
    if storage_trouble(error):
        log.error("interaction %s: the database cannot be written: %s", interaction.id, error)
        await tell(interaction, t(locale, "proxy.storage_failing"))
        return
    log.error(
        "unexpected error in interaction %s (guild %s, user %s)",
        interaction.id,
        interaction.guild_id,
        interaction.user.id if interaction.user else None,
        exc_info=error,
    )
    await tell(interaction, t(locale, "errors.unexpected"))


async def guarded(
    interaction: discord.Interaction[Any],
    body: Callable[[], Awaitable[None]],
) -> None:
    """Run a button or modal callback inside the same boundary as commands."""
    try:
        await body()
    except Exception as exc:
        await report(interaction, exc)
