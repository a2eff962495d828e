"""Each member reads the bot in their Discord language (zh-CN or English); names stay English."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bot.i18n import resolve_locale, t
from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.steps import click, finish, reply_to, wait_job_message
from tests.fakes.discord import FakeDiscord, Interaction

# Option types whose own options are nested subcommands (1) or subcommand groups (2).
SUBCOMMAND_TYPES = (1, 2)


async def imagine(fake: FakeDiscord, prompt: str, locale: str) -> Interaction:
    handle = await fake.slash("imagine", {"prompt": prompt}, locale=locale)
    await handle.wait_response()
    return handle


async def private_answer(handle: Interaction, text: str) -> str:
    original = await handle.wait_original(lambda m: text in m.get("content", ""))
    assert handle.ephemeral
    return str(original["content"])


def opening(text: str) -> str:
    """The fixed start of a catalogue sentence, before its first placeholder."""
    return text.split("{")[0]


def test_the_two_languages_really_differ() -> None:
    # Guards the test below: with a missing translation it would pass on English fallbacks.
    for key in ("job.started", "job.status.waiting", "prompt.empty", "job.action.upscale"):
        assert t("zh-CN", key) != t("en", key)


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
async def test_messages_follow_the_members_language(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, locale: str
) -> None:
    lang = resolve_locale(locale)
    running = await mjbot()
    guild_id = fake_discord.guild.id
    await running.services.guilds.add_banned_word(guild_id, "forbidden")

    handle = await imagine(fake_discord, "a red fox in snow", locale)
    notice = await private_answer(handle, opening(t(lang, "job.started")))
    message = await wait_job_message(fake_discord, "a red fox in snow")
    assert str(message["id"]) in notice
    waiting = t(lang, "job.status.waiting")
    await fake_discord.wait_for(
        lambda: waiting in fake_discord.messages[int(message["id"])]["content"]
    )

    grid = await finish(fake_discord, sim, int(message["id"]))
    await click(fake_discord, grid, "U1", locale=locale)
    upscale = await reply_to(fake_discord, int(grid["id"]))
    assert t(lang, "job.action.upscale") in upscale["content"]

    empty = await imagine(fake_discord, "   ", locale)
    assert await private_answer(empty, t(lang, "prompt.empty"))

    refused = await imagine(fake_discord, "a forbidden fox", locale)
    assert await private_answer(refused, t(lang, "access.banned_word", word="forbidden"))

    # The proxy's own refusal (code 24) is explained in the member's language too.
    banned = await imagine(fake_discord, "a banned-word in a prompt", locale)
    reason = t(lang, "submit.banned_prompt", word="banned-word")
    assert await private_answer(banned, t(lang, "job.not_started", reason=reason))

    await imagine(fake_discord, "a doomed prompt", locale)
    doomed = await wait_job_message(fake_discord, "a doomed prompt")
    [task_id] = [task.id for task in sim.tasks.values() if task.prompt == "a doomed prompt"]
    sim.fail(task_id, "Job action restricted")
    # An unknown reason is quoted after our own words, in the member's language.
    quoted = t(lang, "reasons.unknown", reason="Job action restricted")
    failed = t(lang, "job.status.failure", reason=quoted)
    await fake_discord.wait_for(
        lambda: failed in fake_discord.messages[int(doomed["id"])]["content"]
    )


async def test_a_job_speaks_the_language_of_whoever_started_it(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    await imagine(fake_discord, "a lighthouse at dusk", "en-US")
    message = await wait_job_message(fake_discord, "a lighthouse at dusk")
    grid = await finish(fake_discord, sim, int(message["id"]))

    # A Chinese-speaking member upscales the English member's grid: the new job is theirs.
    await click(fake_discord, grid, "U2", locale="zh-CN")
    child = await reply_to(fake_discord, int(grid["id"]))
    assert t("zh-CN", "job.action.upscale") in child["content"]
    assert t("en", "job.action.upscale") not in child["content"]


def walk_options(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for option in node.get("options") or []:
        yield option
        if option["type"] in SUBCOMMAND_TYPES:
            yield from walk_options(option)


def synced_commands(fake: FakeDiscord) -> list[dict[str, Any]]:
    """Every slash command synced to the test guild or globally, whichever cogs are loaded."""
    commands = fake.commands.get(fake.guild.id, []) + fake.commands.get(None, [])
    return [c for c in commands if c["type"] == 1]  # context-menu commands have no description


def described_nodes(fake: FakeDiscord) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, node) for each command, subcommand group, subcommand and option."""
    for command in synced_commands(fake):
        yield "/" + command["name"], command
        for option in walk_options(command):
            yield f"/{command['name']} …{option['name']}", option


def zh(node: dict[str, Any], field: str) -> str | None:
    return (node.get(field) or {}).get("zh-CN")


async def test_synced_commands_carry_chinese_descriptions_and_english_names(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    await mjbot()
    imagine_command = next(c for c in synced_commands(fake_discord) if c["name"] == "imagine")
    assert zh(imagine_command, "description_localizations") == t("zh-CN", "cmd.imagine.description")
    prompt_option = next(o for o in imagine_command["options"] if o["name"] == "prompt")
    assert zh(prompt_option, "description_localizations") == t("zh-CN", "cmd.imagine.prompt")

    nodes = list(described_nodes(fake_discord))
    assert len(nodes) > 3
    localized_names = [where for where, node in nodes if zh(node, "name_localizations")]
    assert not localized_names, "command and option names stay English"
    untranslated = [
        f"{where}: {node['description']!r}"
        for where, node in nodes
        if not zh(node, "description_localizations")
    ]
    assert not untranslated, "descriptions without zh-CN:\n" + "\n".join(untranslated)


async def test_synced_choices_carry_chinese_names(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    await mjbot()
    blend = next((c for c in synced_commands(fake_discord) if c["name"] == "blend"), None)
    if blend is not None:
        dimensions = next(o for o in blend["options"] if o["name"] == "dimensions")
        assert {zh(c, "name_localizations") for c in dimensions["choices"]} == {
            t("zh-CN", "cmd.blend.portrait"),
            t("zh-CN", "cmd.blend.square"),
            t("zh-CN", "cmd.blend.landscape"),
        }
    untranslated = [
        f"{where}: choice {choice['name']!r}"
        for where, node in described_nodes(fake_discord)
        for choice in node.get("choices") or []
        if not zh(choice, "name_localizations")
    ]
    assert not untranslated, "choices without zh-CN (give them a catalogue key):\n" + "\n".join(
        untranslated
    )
