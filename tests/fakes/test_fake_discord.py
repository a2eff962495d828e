"""Self-tests of the fake Discord, driving a tiny discord.py bot (not mjbot) over the wire."""

from __future__ import annotations

import asyncio
import io
import re
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import (
    MANAGE_GUILD,
    FakeDiscord,
    InteractionRejected,
    heartbeat_threads,
    patch_discord,
    running,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


class Counter(discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"counter:(?P<n>\d+)"):
    def __init__(self, n: int) -> None:
        super().__init__(discord.ui.Button(label=f"clicked {n}", custom_id=f"counter:{n}"))
        self.n = n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str]
    ) -> Counter:
        return cls(int(match["n"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(Counter(self.n + 1))
        await interaction.response.edit_message(view=view)


class Feedback(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[Any] = discord.ui.TextInput(
        label="Your feedback", custom_id="feedback_text"
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


class Survey(discord.ui.Modal, title="Survey"):
    name: discord.ui.Label[Any] = discord.ui.Label(
        text="Name", component=discord.ui.TextInput(custom_id="name")
    )
    colour: discord.ui.Label[Any] = discord.ui.Label(
        text="Colour",
        component=discord.ui.Select(
            custom_id="colour",
            options=[discord.SelectOption(label=c, value=c) for c in ("red", "blue")],
        ),
    )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        name = self.name.component
        colour = self.colour.component
        assert isinstance(name, discord.ui.TextInput)
        assert isinstance(colour, discord.ui.Select)
        await interaction.response.send_message(f"{name.value} likes {colour.values[0]}")


class TinyBot(commands.Bot):
    def __init__(self) -> None:
        super().__init__(
            command_prefix="!", intents=discord.Intents.default(), guild_ready_timeout=0.05
        )
        self.release = asyncio.Event()
        self.outcomes: list[Any] = []
        self.add_commands()

    async def setup_hook(self) -> None:
        self.add_dynamic_items(Counter)
        await self.tree.sync()

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        # discord.py waits 5 s before every re-IDENTIFY (after INVALID_SESSION); not needed here.
        return None

    def add_commands(self) -> None:
        tree = self.tree

        @tree.command(description="A counter button")
        async def counter(interaction: discord.Interaction) -> None:
            view = discord.ui.View(timeout=None)
            view.add_item(Counter(0))
            await interaction.response.send_message("count", view=view)

        @tree.command(description="Thinks, then sends a file")
        async def render(interaction: discord.Interaction) -> None:
            await interaction.response.defer(thinking=True)
            await interaction.followup.send("done", file=discord.File(io.BytesIO(PNG), "a.png"))
            await interaction.followup.send("second")

        @tree.command(description="Echoes an uploaded file's size")
        async def upload(interaction: discord.Interaction, image: discord.Attachment) -> None:
            data = await image.read()
            await interaction.response.send_message(f"{image.filename} {len(data)}")

        @tree.command(description="Only you can see this")
        async def secret(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("psst", ephemeral=True)

        @tree.command(description="Opens a modal")
        async def feedback(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(Feedback())

        @tree.command(description="Opens a modal with labels")
        async def survey(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(Survey())

        @tree.command(description="Breaks the custom_id limit")
        async def bad(interaction: discord.Interaction) -> None:
            view = discord.ui.View()
            view.add_item(discord.ui.Button(label="x", custom_id="x" * 101))
            await interaction.response.send_message("bad", view=view)

        @tree.command(description="Defers, then waits for the test")
        async def slow(interaction: discord.Interaction) -> None:
            await interaction.response.defer()
            await self.release.wait()
            try:
                await interaction.followup.send("late")
            except discord.HTTPException as exc:
                self.outcomes.append((exc.status, exc.code))
                await interaction.channel.send("fallback")  # type: ignore[union-attr]

        @tree.command(description="Waits for the test before answering")
        async def hesitate(interaction: discord.Interaction) -> None:
            await self.release.wait()
            await interaction.response.send_message("too late")

        @tree.command(description="A select menu")
        async def pick(interaction: discord.Interaction) -> None:
            select: discord.ui.Select[Any] = discord.ui.Select(
                custom_id="pick",
                max_values=2,
                options=[discord.SelectOption(label=c, value=c) for c in ("red", "blue", "green")],
            )

            async def chosen(choice: discord.Interaction) -> None:
                await choice.response.edit_message(content=",".join(select.values), view=None)

            select.callback = chosen  # type: ignore[method-assign,assignment]
            view = discord.ui.View()
            view.add_item(select)
            await interaction.response.send_message("pick", view=view)

        admin = app_commands.Group(
            name="mjadmin",
            description="Moderation",
            default_permissions=discord.Permissions(manage_guild=True),
        )
        quota = app_commands.Group(name="quota", description="Quotas", parent=admin)

        @quota.command(name="set", description="Set a quota")
        async def quota_set(
            interaction: discord.Interaction, user: discord.Member, limit: int
        ) -> None:
            await interaction.response.send_message(f"{user.name}={limit}", ephemeral=True)

        tree.add_command(admin)


@pytest.fixture
def bot() -> TinyBot:
    return TinyBot()


async def test_login_sync_and_ready(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        assert bot.user is not None and bot.user.id == fake_discord.bot_user.id
        assert bot.application_id == fake_discord.application_id
        names = {c["name"] for c in fake_discord.commands[None]}
        assert {"counter", "render", "mjadmin"} <= names
        guild = bot.get_guild(fake_discord.guild.id)
        assert guild is not None and guild.me is not None
        assert guild.get_channel(fake_discord.channel.id) is not None
        assert guild.member_count == len(fake_discord.guild.members)
        assert [r.method + " " + r.path for r in fake_discord.requests[:2]] == [
            "GET /users/@me",
            "GET /oauth2/applications/@me",
        ]
        assert "Authorization" not in fake_discord.requests[0].headers


async def test_defer_then_followup_with_file(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        handle = await fake_discord.slash("render")
        assert (await handle.wait_response())["type"] == 5
        followups = await handle.wait_followups(2)
        original = handle.original
        assert original is not None
        assert followups[0]["id"] == original["id"]  # the first followup edits the thinking one
        assert not original["flags"] & 128 and original["content"] == "done"
        assert followups[1]["content"] == "second"
        attachment = original["attachments"][0]
        assert attachment["content_type"] == "image/png" and attachment["size"] == len(PNG)
        channel = bot.get_channel(fake_discord.channel.id)
        assert isinstance(channel, discord.TextChannel)
        fetched = await channel.fetch_message(int(original["id"]))
        assert await fetched.attachments[0].read() == PNG
        posted = [r for r in fake_discord.requests if r.path.startswith("/webhooks/")]
        assert posted[0].files[0].filename == "a.png" and posted[0].files[0].data == PNG


async def test_attachment_option_is_hosted(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        handle = await fake_discord.slash("upload", attachments={"image": ("cat.png", PNG)})
        message = await handle.wait_original()
        assert message["content"] == f"cat.png {len(PNG)}"


async def test_dynamic_item_click(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        original = await (await fake_discord.slash("counter")).wait_original()
        click = await fake_discord.click(int(original["id"]), "counter:0")
        assert (await click.wait_response())["type"] == 7
        message = fake_discord.messages[int(original["id"])]
        assert message["components"][0]["components"][0]["custom_id"] == "counter:1"
        with pytest.raises(InteractionRejected):
            await fake_discord.click(int(original["id"]), "counter:0")


async def test_modal_round_trip(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        opened = await fake_discord.slash("feedback")
        await opened.wait_response()
        assert opened.modal is not None and opened.modal["title"] == "Feedback"
        submitted = await fake_discord.submit_modal(opened, {"feedback_text": "great bot"})
        reply = await submitted.wait_original()
        assert reply["content"] == "thanks: great bot" and submitted.ephemeral

        opened = await fake_discord.slash("survey")
        await opened.wait_response()
        submitted = await fake_discord.submit_modal(opened, {"name": "Ann", "colour": ["blue"]})
        assert (await submitted.wait_original())["content"] == "Ann likes blue"


async def test_ephemeral_response_is_not_echoed(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        handle = await fake_discord.slash("secret")
        message = await handle.wait_original()
        assert handle.ephemeral and message["flags"] & 64
        assert fake_discord.channel_messages(fake_discord.channel.id) == []
        session = fake_discord.gateway.current
        assert session is not None
        assert not any(e["t"] == "MESSAGE_CREATE" for e in session.events)


async def test_subcommand_group_and_hidden_command(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        bob = fake_discord.users["bob"]
        with pytest.raises(InteractionRejected, match="hidden"):
            await fake_discord.slash(("mjadmin", "quota", "set"), {"user": bob, "limit": 5})
        handle = await fake_discord.slash(
            "mjadmin quota set", {"user": bob, "limit": 5}, permissions=MANAGE_GUILD
        )
        assert (await handle.wait_original())["content"] == "bob=5"


async def test_gateway_drop_resumes(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    gateway = fake_discord.gateway
    async with running(bot, fake_discord):
        await fake_discord.drop_gateway()
        await fake_discord.wait_for(lambda: gateway.resume_count == 1 and gateway.connected)
        handle = await fake_discord.slash("counter")
        await handle.wait_original()

        gateway.invalidate_sessions()
        await fake_discord.drop_gateway()
        await fake_discord.wait_for(lambda: gateway.identify_count == 2 and gateway.connected)
        await (await fake_discord.slash("counter")).wait_original()
        assert gateway.resume_count == 1


async def test_429_is_retried(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        fake_discord.inject_error("POST", r"^/channels/\d+/messages$", 429)
        channel = bot.get_channel(fake_discord.channel.id)
        assert isinstance(channel, discord.TextChannel)
        sent = await channel.send("hello")
        statuses = [r.status for r in fake_discord.requests if r.path.endswith("/messages")]
        assert statuses == [429, 200]
        assert fake_discord.messages[sent.id]["content"] == "hello"


async def test_violation_is_recorded(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        await fake_discord.slash("bad")
        await fake_discord.wait_for(lambda: fake_discord.violations, fail_on_errors=False)
        await fake_discord.wait_for(lambda: fake_discord.errors.records, fail_on_errors=False)
    problems = [v.problem for v in fake_discord.take_violations()]
    assert any("custom_id has 101 characters" in p for p in problems)
    assert fake_discord.errors.take()  # discord.py logged the 400 in the command


async def test_interaction_token_expires(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        handle = await fake_discord.slash("slow")
        await handle.wait_response()
        fake_discord.advance(16 * 60)
        bot.release.set()
        await fake_discord.wait_message(lambda m: m["content"] == "fallback")
        assert bot.outcomes == [(401, 50027)]


async def test_acknowledgement_rules(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        handle = await fake_discord.slash("secret")
        await handle.wait_response()
        url = f"{fake_discord.api_base_url}/interactions/{handle.id}/{handle.token}/callback"
        async with aiohttp.ClientSession() as session:
            async with session.post(url, json={"type": 5}) as response:
                assert response.status == 400
                assert (await response.json())["code"] == 40060
        late = await fake_discord.slash("hesitate")
        fake_discord.advance(4)
        bot.release.set()
        await fake_discord.wait_for(lambda: fake_discord.violations, fail_on_errors=False)
        await fake_discord.wait_for(lambda: fake_discord.errors.records, fail_on_errors=False)
        assert late.response is None
    fake_discord.errors.take()
    # The fake clock moved 4 s; the real time the bot took on a loaded machine adds a little.
    problem = fake_discord.take_violations()[0].problem
    assert re.search(r"acknowledged after 4\.\d\d s \(limit 3 s\)", problem), problem


async def test_clean_shutdown(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        assert heartbeat_threads()
    assert bot.is_closed()
    assert heartbeat_threads() == []
    assert fake_discord.gateway.sockets == set()


async def test_select_menu(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    async with running(bot, fake_discord):
        completed = asyncio.ensure_future(bot.wait_for("app_command_completion", timeout=10))
        original = await (await fake_discord.slash("pick")).wait_original()
        # The fake stores the message before the bot reads Discord's answer to its callback, and
        # only then does discord.py register the view; a select sent earlier finds no view.
        await completed
        with pytest.raises(InteractionRejected):
            await fake_discord.select(int(original["id"]), "pick", ["purple"])
        choice = await fake_discord.select(int(original["id"]), "pick", ["red", "green"])
        await choice.wait_response()
        message = fake_discord.messages[int(original["id"])]
        assert message["content"] == "red,green" and message["components"] == []


async def test_channel_messages(fake_discord: FakeDiscord, bot: TinyBot) -> None:
    seen: list[str] = []

    async def on_message(message: discord.Message) -> None:
        seen.append(message.content)
        fake_discord.notify()  # wait_for re-checks only on notifications

    bot.add_listener(on_message)
    async with running(bot, fake_discord):
        channel = bot.get_channel(fake_discord.channel.id)
        assert isinstance(channel, discord.TextChannel)
        first = await channel.send("one", file=discord.File(io.BytesIO(PNG), "one.png"))
        reply = await first.reply("two")
        assert reply.reference is not None and reply.reference.message_id == first.id
        edited = await first.edit(
            content="one!",
            attachments=[*first.attachments, discord.File(io.BytesIO(b"x"), "b.txt")],
        )
        assert [a.filename for a in edited.attachments] == ["one.png", "b.txt"]
        assert edited.attachments[1].content_type == "text/plain"
        edited = await edited.edit(attachments=[])
        assert edited.attachments == []
        history = [m.content async for m in channel.history(limit=10)]
        assert history == ["two", "one!"]
        await reply.delete()
        assert [m["content"] for m in fake_discord.channel_messages(channel.id)] == ["one!"]
        member = await channel.guild.fetch_member(fake_discord.user.id)
        assert member.name == "alice"
        await fake_discord.user_message("hi bot")
        await fake_discord.wait_for(lambda: len(seen) >= 3)
    # the bot's own messages come back with content; alice's is blanked (no content intent)
    assert seen == ["one", "two", ""]


async def test_patch_discord_restores() -> None:
    base = discord.http.Route.BASE
    async with FakeDiscord() as fake:
        with patch_discord(fake):
            assert discord.http.Route.BASE == fake.api_base_url
        assert discord.http.Route.BASE == base
