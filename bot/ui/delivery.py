"""Where a job-message request goes: the job's own interaction token, or the channel.

A job's message is a followup of its own interaction (the /imagine, or the click that started
it) and is edited through that interaction's token while it lives: each token is its own
rate-limit bucket, bound by no global limit, so a job does not queue behind the others of its
channel. After that (and for a job without an interaction, e.g. posted after a restart) the bot
token edits the message through the channel, paced by the outbox. Every request waits for a
slot of the `Outbox` first, by priority.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.i18n import t
from bot.ui.boundary import PLACEHOLDER
from bot.ui.outbox import Outbox, Priority, Route
from storage.jobs import MessageRecord

log = logging.getLogger(__name__)

# An interaction token lives 15 minutes; it is no longer used for the last minute of its life,
# so that an edit in flight never outlives it.
TOKEN_LIFETIME = 15 * 60.0
TOKEN_MARGIN = 60.0
# Marks an interaction whose deferred "thinking" answer was already replaced (see `_settle`).
SETTLED = "mjbot_settled"


@dataclass
class Held:
    """The outbox slot a job's update holds, if any (released by `Delivery.release`)."""

    route: Route | None = None


class Delivery:
    """Sends job messages on the right route, each request in an outbox slot."""

    def __init__(
        self, client: discord.Client, outbox: Outbox, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self.outbox = outbox
        self._clock = clock
        self._dead_tokens: set[str] = set()

    # ---- posting ----------------------------------------------------------------------------
    async def post(
        self,
        channel_id: int,
        guild_id: int | None,
        kwargs: dict[str, Any],
        *,
        reply_to: int | None,
        interaction: discord.Interaction[Any] | None,
        locale: str,
        posting: str = "budget.posting",
    ) -> tuple[discord.Message, str | None, float | None]:
        """Post a job message; returns it with the token that may edit it, and its expiry.

        `posting` is the catalogue key of what a "thinking" answer says meanwhile."""
        if interaction is not None and self.usable(interaction):
            await self._settle(interaction, locale, posting)
            try:
                async with self.outbox.slot(Priority.FIRST, Route.token(interaction.token)):
                    message = await interaction.followup.send(wait=True, **kwargs)
            except discord.HTTPException as exc:
                if exc.status not in (401, 404):
                    raise
                log.info(
                    "interaction %s is gone; the job message goes to the channel", interaction.id
                )
            else:
                return message, interaction.token, self.expiry(interaction)
        channel = self._client.get_partial_messageable(channel_id, guild_id=guild_id)
        if reply_to is not None:
            kwargs["reference"] = discord.MessageReference(
                message_id=reply_to, channel_id=channel_id, fail_if_not_exists=False
            )
            kwargs["mention_author"] = False
        async with self.outbox.slot(Priority.FIRST, Route.create(channel_id)):
            return await channel.send(**kwargs), None, None

    def usable(self, interaction: discord.Interaction[Any]) -> bool:
        """Whether a job message may still be posted (and then edited) through `interaction`."""
        age = self._clock() - interaction.created_at.timestamp()
        return interaction.response.is_done() and age < TOKEN_LIFETIME - TOKEN_MARGIN

    @staticmethod
    def expiry(interaction: discord.Interaction[Any]) -> float:
        return interaction.created_at.timestamp() + TOKEN_LIFETIME

    async def _settle(
        self, interaction: discord.Interaction[Any], locale: str, posting: str
    ) -> None:
        """After a "thinking" defer, Discord turns the first followup into that (ephemeral)
        answer: give it its text first, so the job message is a new, public message."""
        thinking = discord.InteractionResponseType.deferred_channel_message
        if interaction.response.type != thinking or interaction.extras.get(SETTLED):
            return
        interaction.extras[SETTLED] = True
        await interaction.edit_original_response(content=t(locale, posting))
        interaction.extras[PLACEHOLDER] = True  # the next word to the member replaces it

    # ---- editing ----------------------------------------------------------------------------
    def route(self, record: MessageRecord) -> Route:
        """The token's webhook route while the token lives, else the channel's edit route."""
        token = record.interaction_token
        expires = record.token_expires_at
        if (
            token is not None
            and token not in self._dead_tokens
            and (expires is None or self._clock() < expires - TOKEN_MARGIN)
        ):
            return Route.token(token)
        return Route.edit(record.channel_id)

    async def edit(
        self, record: MessageRecord, kwargs: dict[str, Any], priority: Priority, held: Held
    ) -> discord.Message:
        """Edit a job message in a slot of its route (`held` may hold one already)."""
        route = self.route(record)
        await self.hold(held, priority, route)
        if route.kind == "token":
            assert record.interaction_token is not None
            hook = discord.Webhook.partial(
                self._client.application_id or 0, record.interaction_token, client=self._client
            )
            try:
                return await hook.edit_message(record.message_id, **kwargs)
            except discord.HTTPException as exc:
                if exc.status not in (401, 404):
                    raise
                # The token was revoked or died early: the channel route takes over.
                self._dead_tokens.add(record.interaction_token)
                for file in kwargs.get("attachments", []):
                    if isinstance(file, discord.File):
                        file.reset()
            await self.hold(held, priority, Route.edit(record.channel_id))
        channel = self._client.get_partial_messageable(record.channel_id, guild_id=record.guild_id)
        return await channel.get_partial_message(record.message_id).edit(**kwargs)

    async def hold(self, held: Held, priority: Priority, route: Route) -> None:
        """Make `held` hold a slot of `route` (releasing the slot of another route first)."""
        if held.route == route:
            return
        self.release(held)
        await self.outbox.acquire(priority, route)
        held.route = route

    def release(self, held: Held) -> None:
        if held.route is not None:
            route, held.route = held.route, None
            self.outbox.release(route)
