"""Registers the persistent buttons so every job message keeps working across restarts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.ui.buttons import DYNAMIC_ITEMS

if TYPE_CHECKING:
    from bot.app import MjBot


async def setup(bot: MjBot) -> None:
    bot.add_dynamic_items(*DYNAMIC_ITEMS)


async def teardown(bot: MjBot) -> None:
    bot.remove_dynamic_items(*DYNAMIC_ITEMS)
