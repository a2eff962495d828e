"""Catalogues: every language has every English key and placeholder; lookups fall back."""

from __future__ import annotations

import ast
import string
import tomllib
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import discord
import pytest
from discord import app_commands

from bot import i18n
from bot.i18n import (
    ALL_PLURAL_CATEGORIES,
    DEFAULT_LOCALE,
    LOCALES,
    PLURAL_CATEGORIES,
    catalogue,
    has_key,
    resolve_locale,
    t,
)
from bot.i18n_discord import CatalogueTranslator
from bot.ui.boundary import locale_of

OTHER_LOCALES = [lang for lang in LOCALES if lang != DEFAULT_LOCALE]
ROOT = Path(__file__).resolve().parents[2]
# Discord refuses a command sync with a description or choice name over 100 characters.
DISCORD_TEXT_LIMIT = 100


def english_areas() -> Iterator[tuple[str, dict[str, str]]]:
    """(file name, its flattened keys) for every bot/locales/en/*.toml."""
    folder = resources.files("bot").joinpath("locales", DEFAULT_LOCALE)
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            yield entry.name, i18n._flatten(tomllib.loads(entry.read_text("utf-8")))


def plural_entries(entries: dict[str, str]) -> dict[str, set[str]]:
    """Plural sentences: tables whose keys are all plural categories (base key -> categories)."""
    tables: dict[str, set[str]] = {}
    for key in entries:
        base, _, last = key.rpartition(".")
        tables.setdefault(base, set()).add(last)
    return {
        base: forms
        for base, forms in tables.items()
        if forms <= ALL_PLURAL_CATEGORIES
        and not any(k.startswith(base + ".") and k.rpartition(".")[0] != base for k in entries)
    }


def sentence_keys(entries: dict[str, str]) -> set[str]:
    """Keys with every plural table counted once, by its base key."""
    plural = plural_entries(entries)
    return {k.rpartition(".")[0] if k.rpartition(".")[0] in plural else k for k in entries}


def placeholders(text: str) -> set[str]:
    return {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}


@pytest.mark.parametrize("lang", OTHER_LOCALES)
def test_every_english_key_is_translated(lang: str) -> None:
    translated = sentence_keys(catalogue(lang))
    problems = []
    for area, keys in english_areas():
        missing = sorted(key for key in sentence_keys(keys) if key not in translated)
        if missing:
            problems.append(
                f"bot/locales/{lang}/ lacks {len(missing)} keys of en/{area}: {missing}"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("lang", OTHER_LOCALES)
def test_no_key_exists_only_in_a_translation(lang: str) -> None:
    stale = sorted(sentence_keys(catalogue(lang)) - sentence_keys(catalogue(DEFAULT_LOCALE)))
    assert not stale, f"{lang} has keys that English does not (renamed or removed?): {stale}"


@pytest.mark.parametrize("lang", OTHER_LOCALES)
def test_translations_keep_the_english_placeholders(lang: str) -> None:
    english = catalogue(DEFAULT_LOCALE)
    plural = plural_entries(english)

    def source(key: str) -> str | None:
        base = key.rpartition(".")[0]
        return english.get(f"{base}.other") if base in plural else english.get(key)

    different = {
        key: (sorted(placeholders(source(key) or "")), sorted(placeholders(text)))
        for key, text in catalogue(lang).items()
        if source(key) is not None and placeholders(text) != placeholders(source(key) or "")
    }
    assert not different, f"{lang} placeholders differ from English (en, {lang}): {different}"


@pytest.mark.parametrize("lang", LOCALES)
def test_every_string_is_a_valid_format_string(lang: str) -> None:
    broken = []
    for key, text in catalogue(lang).items():
        try:
            placeholders(text)
        except ValueError as exc:
            broken.append(f"{key}: {exc}")
    assert not broken


@pytest.mark.parametrize("lang", LOCALES)
def test_command_texts_fit_discord_limits(lang: str) -> None:
    too_long = {
        key: len(text)
        for key, text in catalogue(lang).items()
        if key.startswith("cmd.") and len(text) > DISCORD_TEXT_LIMIT
    }
    assert not too_long


@pytest.mark.parametrize(
    ("candidates", "expected"),
    [
        (("zh-CN",), "zh-CN"),
        (("zh-TW",), "zh-CN"),
        (("zh",), "zh-CN"),
        (("en-US",), "en"),
        (("en-GB",), "en"),
        (("en",), "en"),
        (("fr",), "en"),
        (("pt-BR",), "en"),
        ((None,), "en"),
        ((), "en"),
        ((None, "zh-CN"), "zh-CN"),  # no interaction locale: the guild's
        (("", "zh-CN"), "zh-CN"),
        (("en-US", "zh-CN"), "en"),  # the member's own language wins over the guild's
        (("zh-CN", "en-US"), "zh-CN"),
        ((str(discord.Locale.chinese),), "zh-CN"),
    ],
)
def test_resolve_locale(candidates: tuple[str | None, ...], expected: str) -> None:
    assert resolve_locale(*candidates) == expected


def test_t_picks_the_language_and_fills_placeholders() -> None:
    assert t("zh-CN", "job.status.queued_position", position=3) == "⏳ 排队中（前面还有 3 个）"
    assert t("en-US", "job.status.queued_position", position=3) == "⏳ Queued (3 ahead)"
    assert t(None, "errors.not_allowed") == "You are not allowed to use this command."


def test_t_falls_back_to_english_for_a_key_missing_in_the_language(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    partial = {k: v for k, v in catalogue("zh-CN").items() if k != "errors.not_allowed"}
    real = catalogue

    def fake_catalogue(locale: str) -> dict[str, str]:
        return partial if locale == "zh-CN" else real(locale)

    monkeypatch.setattr(i18n, "catalogue", fake_catalogue)
    assert t("zh-CN", "errors.not_allowed") == "You are not allowed to use this command."
    assert t("zh-CN", "errors.unexpected") == catalogue("zh-CN")["errors.unexpected"]


def test_t_of_an_unknown_key_is_the_key_and_a_missing_param_stays_visible() -> None:
    assert t("zh-CN", "no.such.key") == "no.such.key"
    assert not has_key("no.such.key") and has_key("job.started")
    assert t("en", "job.started") == "🎨 Your job has started: {link}"


def _context(
    location: app_commands.TranslationContextLocation,
) -> app_commands.TranslationContextTypes:
    # The translator only reads the location; the data (command, parameter ...) is not needed.
    context = app_commands.TranslationContext(location=location, data=None)  # type: ignore[call-overload]
    return cast("app_commands.TranslationContextTypes", context)


Loc = app_commands.TranslationContextLocation


@pytest.mark.parametrize(
    ("location", "key"),
    [
        (Loc.command_description, "cmd.imagine.description"),
        (Loc.parameter_description, "cmd.imagine.prompt"),
        (Loc.group_description, "cmd.imagine.description"),
        (Loc.choice_name, "dialog.region.left"),
    ],
)
async def test_translator_gives_chinese_descriptions_and_choices(
    location: app_commands.TranslationContextLocation, key: str
) -> None:
    translator = CatalogueTranslator()
    text = app_commands.locale_str("English text", key=key)
    for locale in (discord.Locale.chinese, discord.Locale.taiwan_chinese):
        assert (
            await translator.translate(text, locale, _context(location)) == catalogue("zh-CN")[key]
        )
    for locale in (discord.Locale.american_english, discord.Locale.british_english):
        assert await translator.translate(text, locale, _context(location)) is None
    assert await translator.translate(text, discord.Locale.japanese, _context(location)) is None


@pytest.mark.parametrize("location", [Loc.command_name, Loc.group_name, Loc.parameter_name])
async def test_translator_keeps_names_english(
    location: app_commands.TranslationContextLocation,
) -> None:
    translator = CatalogueTranslator()
    text = app_commands.locale_str("imagine", key="cmd.imagine.description")
    assert await translator.translate(text, discord.Locale.chinese, _context(location)) is None


async def test_translator_ignores_strings_without_a_key_or_with_an_unknown_one() -> None:
    translator = CatalogueTranslator()
    context = _context(Loc.command_description)
    plain = app_commands.locale_str("No key")
    unknown = app_commands.locale_str("Unknown", key="cmd.nothing.here")
    assert await translator.translate(plain, discord.Locale.chinese, context) is None
    assert await translator.translate(unknown, discord.Locale.chinese, context) is None


def _keys_in_code() -> dict[str, str]:
    """Catalogue keys named literally in bot/ and cogs/, with where each is used."""
    found: dict[str, str] = {}
    for folder in ("bot", "cogs"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                for key in _literal_keys(node):
                    found.setdefault(key, f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}")
    return found


def _literal_keys(node: ast.AST) -> Iterator[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        # Failure reasons of our own: "mjbot:<key>[:<word>]".
        if node.value.startswith("mjbot:") and "." in node.value:
            yield node.value.removeprefix("mjbot:").split(":")[0]
        return
    if isinstance(node, ast.FunctionDef) and node.name == "message_key":
        for inner in ast.walk(node):
            if isinstance(inner, ast.Return) and isinstance(inner.value, ast.Constant):
                yield str(inner.value.value)
        return
    if not isinstance(node, ast.Call):
        return
    func = node.func
    name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
    position = {"t": 1, "UserFacingError": 0}.get(name)
    if position is not None and len(node.args) > position:
        arg = node.args[position]
        if isinstance(arg, ast.Constant):
            yield str(arg.value)
    for keyword in node.keywords:
        if keyword.arg == "key" and isinstance(keyword.value, ast.Constant):
            yield str(keyword.value.value)


def test_every_key_named_in_the_code_is_in_the_english_catalogue() -> None:
    keys = _keys_in_code()
    assert "cmd.imagine.description" in keys and "job.failure.timeout" in keys
    missing = {key: where for key, where in keys.items() if not has_key(key)}
    assert not missing


@pytest.mark.parametrize(
    ("member", "guild", "expected"),
    [
        (discord.Locale.chinese, discord.Locale.american_english, "zh-CN"),
        (discord.Locale.american_english, discord.Locale.chinese, "en"),
        (discord.Locale.french, discord.Locale.chinese, "zh-CN"),  # no French: the guild's
        (discord.Locale.french, None, "en"),
        (None, discord.Locale.taiwan_chinese, "zh-CN"),
    ],
)
def test_an_interaction_speaks_the_members_language_then_the_guilds(
    member: discord.Locale | None, guild: discord.Locale | None, expected: str
) -> None:
    interaction = SimpleNamespace(locale=member, guild_locale=guild)
    assert locale_of(interaction) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("lang", LOCALES)
def test_plural_sentences_have_exactly_their_languages_forms(lang: str) -> None:
    entries = catalogue(lang)
    wrong = {
        base: sorted(forms)
        for base, forms in plural_entries(entries).items()
        if forms != set(PLURAL_CATEGORIES[lang])
    }
    assert not wrong, f"{lang} plural forms should be {PLURAL_CATEGORIES[lang]}: {wrong}"
    assert plural_entries(entries), "no plural sentence found: is the detection broken?"


def test_plural_forms_come_from_the_catalogue_of_each_language() -> None:
    assert t("en", "members.info.units", count=1) == "Units charged: 1 unit"
    assert t("en", "members.info.units", count=2) == "Units charged: 2 units"
    assert t("en", "members.info.units", count=0) == "Units charged: 0 units"
    assert t("en", "members.info.units", count="1.5") == "Units charged: 1.5 units"
    assert t("zh-CN", "members.info.units", count=1) == t(
        "zh-CN", "members.info.units.other", count=1
    )
    assert t("en", "quota.user_quota", count=1, cost=1, left=1, limit=1, used=0).startswith(
        "This costs 1 unit,"
    )
    assert has_key("members.info.units")


def test_english_sentences_with_a_number_agree_with_it() -> None:
    one_unit = t("en", "admin.quota.user_set", user="@a", units="1", count="1")
    assert one_unit == "✅ @a may now spend 1 unit a day."
    assert t("en", "admin.quota.user_set", user="@a", units="2", count="2").endswith(
        "2 units a day."
    )
    assert "1 job running" in t("en", "quota.user_in_flight", used=1, limit=1, count=1)
    assert "Used today: **0** of **1** unit." in t(
        "en", "info.usage", used=0, quota=1, count=1, reset="soon"
    )
    # Without a count, a plural sentence reads in its general form.
    assert (
        t("en", "admin.quota.cap_set", units=5)
        == "✅ The whole server may now spend 5 units a day."
    )


def test_a_sentence_with_two_counts_takes_each_in_its_own_plural_form() -> None:
    jobs = t("en", "admin.stats.jobs", count=1)
    units = t("en", "admin.stats.units", count="1")
    summary = t("en", "admin.stats.summary", jobs=jobs, units=units, failures=0)
    assert summary == "**1** job · **1** unit · **0** failed"
    assert t("zh-CN", "admin.stats.jobs", count=1) == "**1** 个任务"
