"""discord.py Translator that localises command descriptions and choices from the catalogues."""

from __future__ import annotations

import discord
from discord import app_commands

from bot.i18n import DEFAULT_LOCALE, catalogue, resolve_locale

# Users know the English command and option names (/imagine prompt:), as in Midjourney's own bot.
_UNTRANSLATED = frozenset(
    {
        app_commands.TranslationContextLocation.command_name,
        app_commands.TranslationContextLocation.group_name,
        app_commands.TranslationContextLocation.parameter_name,
    }
)


class CatalogueTranslator(app_commands.Translator):
    """Names stay English; descriptions and choices come from the catalogue key of the string."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        key = string.extras.get("key")
        if not key or context.location in _UNTRANSLATED:
            return None
        lang = resolve_locale(locale.value)
        if lang == DEFAULT_LOCALE:
            # English is the default text of the command itself: no localisation entry needed.
            return None
        return catalogue(lang).get(key)
