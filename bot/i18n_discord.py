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


# The Discord locales a catalogue other than English serves (zh-CN, zh-TW -> zh-CN). discord.py
# asks the translator for every string in each of Discord's ~30 locales at every command sync;
# the others get None at once.
_CATALOGUE_OF = {
    locale: lang
    for locale in discord.Locale
    if (lang := resolve_locale(locale.value)) != DEFAULT_LOCALE
}


class CatalogueTranslator(app_commands.Translator):
    """Names stay English; descriptions and choices come from the catalogue key of the string."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        # English is the default text of the command itself: no localisation entry needed.
        lang = _CATALOGUE_OF.get(locale)
        if lang is None or context.location in _UNTRANSLATED:
            return None
        key = string.extras.get("key")
        return catalogue(lang).get(key) if key else None
