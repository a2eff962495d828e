"""A wire-level fake Discord (REST API v10 + gateway) for testing the real discord.py client."""

from .client import assert_no_heartbeat_threads, heartbeat_threads, patch_discord, running
from .clock import FakeClock, snowflake_time
from .interactions import Interaction, InteractionRejected
from .logs import BotError
from .models import (
    ADMINISTRATOR,
    ALL_PERMISSIONS,
    MANAGE_GUILD,
    MEMBER_PERMISSIONS,
    Channel,
    Guild,
    Member,
    Role,
    User,
)
from .ratelimits import Limited, Limits, RateLimiter
from .server import FakeDiscord, Violation, default_guild, snowflake_on_shard
from .store import UploadedFile
from .wire import RecordedRequest

__all__ = [
    "ADMINISTRATOR",
    "ALL_PERMISSIONS",
    "MANAGE_GUILD",
    "MEMBER_PERMISSIONS",
    "BotError",
    "Channel",
    "FakeClock",
    "FakeDiscord",
    "Guild",
    "Interaction",
    "InteractionRejected",
    "Limited",
    "Limits",
    "Member",
    "RateLimiter",
    "RecordedRequest",
    "Role",
    "UploadedFile",
    "User",
    "Violation",
    "assert_no_heartbeat_threads",
    "default_guild",
    "heartbeat_threads",
    "patch_discord",
    "running",
    "snowflake_on_shard",
    "snowflake_time",
]
