"""Who asks: the plain values a cog extracts from a Discord interaction."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Requester:
    user_id: int
    channel_id: int
    guild_id: int | None = None
    role_ids: frozenset[int] = field(default_factory=frozenset)
    locale: str = "en"
    can_manage_guild: bool = False
