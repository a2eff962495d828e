"""A proxy's address and key as a value, and what goes with a server's own proxy: its key
redacted everywhere, its one log line, and the stand-in for a key that cannot be read."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from bot.config import AuthStyle, Backend
from bot.midjourney.errors import AuthenticationError
from bot.midjourney.models import Task
from bot.proxy_health import Condition
from bot.safety import register_secrets
from storage.proxies import ProxyRecord


@dataclass(frozen=True)
class Endpoint:
    """What a client needs; `identity` tells two proxies apart without showing the key."""

    base_url: str
    path_prefix: str
    api_key: str
    auth_style: AuthStyle
    backend: Backend

    def __repr__(self) -> str:
        return f"Endpoint({self.base_url}{self.path_prefix}, {self.auth_style}, {self.backend})"

    @property
    def identity(self) -> str:
        raw = "\n".join((self.base_url, self.path_prefix, self.auth_style, self.api_key))
        return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def add_log_secrets(secrets: list[str]) -> None:
    """Keys learnt at run time are redacted from the log like the configured ones."""
    from bot.logs import RedactingFilter

    for handler in logging.getLogger().handlers:
        for flt in handler.filters:
            if isinstance(flt, RedactingFilter):
                flt.add_secrets(secrets)


def remember_secret(api_key: str) -> None:
    register_secrets([api_key])
    add_log_secrets([api_key])


def own_log_templates(record: ProxyRecord) -> dict[Condition, str]:
    """The one log line of a server's own proxy: not the operator's key to fix."""
    where = f"the own proxy of guild {record.guild_id} ({record.base_url}{record.path_prefix})"
    return {
        "key_refused": (
            f"{where} refuses its API key (HTTP %s): its moderators were told to connect a valid "
            "one with /mjadmin api set; its running jobs resume by themselves"
        ),
        "quota": (
            f"{where} says its account's balance is spent (HTTP %s): its moderators were told"
        ),
    }


class UnreadableKey:
    """The task source of a proxy whose stored key cannot be decrypted: every read refused."""

    async def list_by_condition(self, ids: object) -> list[Task]:
        raise AuthenticationError(401, "the stored API key cannot be decrypted")

    async def fetch(
        self, task_id: str, *, retries: int | None = None, read_timeout: float | None = None
    ) -> Task | None:
        raise AuthenticationError(401, "the stored API key cannot be decrypted")
