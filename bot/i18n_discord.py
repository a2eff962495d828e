"""discord.py Translator that localises command descriptions and choices from the catalogues."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.i18n import LOCALES, catalogue, resolve_locale


class CatalogueTranslator(app_commands.Translator):
    """Names stay English (users know /imagine); descriptions and choices are translated."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        if not key:
            return None
        if context.location in (
            app_commands.TranslationContextLocation.command_name,
            app_commands.TranslationContextLocation.group_name,
            app_commands.TranslationContextLocation.parameter_name,
        ):
            return None
        lang = resolve_locale(str(locale))
        if lang not in LOCALES or lang == "en" or not str(locale).startswith(lang.split("-")[0]):
            return None
        return catalogue(lang).get(key)
