"""A member's prompt suffix and option sets (/settings), proven on the prompt the proxy gets."""

from __future__ import annotations

from typing import Any

from bot.midjourney.simulator import Simulator
from tests.e2e.conftest import StartBot
from tests.e2e.test_personal import open_panel, prompts_sent
from tests.fakes.discord import FakeDiscord, User


async def fill(fake: FakeDiscord, panel_id: int, button: str, text: str) -> dict[str, Any]:
    """Click the panel's `button`, type `text` into its dialog, return the answer."""
    opened = await fake.click(panel_id, f"mj1:s:{button}")
    assert (await opened.wait_response())["type"] == 9  # the dialog is the first answer
    submitted = await fake.submit_modal(opened, {"text": text})
    return await submitted.wait_response()


async def imagine(fake: FakeDiscord, prompt: str, user: User | None = None) -> str:
    handle = await fake.slash("imagine", {"prompt": prompt}, user=user)
    message = await handle.wait_original(lambda m: m.get("content"))
    return str(message["content"])


async def test_suffix_and_option_sets_reach_the_proxy_in_the_prompt(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"max_jobs_per_user": 0})
    panel_id = int((await open_panel(fake_discord))["id"])

    answer = await fill(
        fake_discord, panel_id, "sets", "portrait: --ar 2:3 --stylize 250\nWarm: --chaos 10\n"
    )
    assert answer["type"] == 7  # the panel itself shows them
    panel = fake_discord.messages[panel_id]
    assert "`portrait` `warm`" in panel["content"] and "Saved." in panel["content"]
    await fill(fake_discord, panel_id, "suffix", "  cinematic lighting ")
    assert "Suffix: `cinematic lighting`" in fake_discord.messages[panel_id]["content"]

    await imagine(fake_discord, "a red fox --sets portrait")
    assert prompts_sent(sim)[-1] == "a red fox --ar 2:3 --stylize 250 cinematic lighting"
    await imagine(fake_discord, "an owl --sets warm,portrait")
    assert prompts_sent(sim)[-1] == "an owl --chaos 10 --ar 2:3 --stylize 250 cinematic lighting"
    await imagine(fake_discord, "a plain hare")
    assert prompts_sent(sim)[-1] == "a plain hare cinematic lighting"

    # Another member has neither.
    await imagine(fake_discord, "bob's hare", user=fake_discord.users["bob"])
    assert prompts_sent(sim)[-1] == "bob's hare"

    before = len(prompts_sent(sim))
    refused = await imagine(fake_discord, "a cat --sets landscape")
    assert "no option set `landscape`" in refused and "portrait, warm" in refused
    assert len(prompts_sent(sim)) == before

    # The dialog shows what is stored, and empty text clears it.
    opened = await fake_discord.click(panel_id, "mj1:s:sets")
    dialog = (await opened.wait_response())["data"]
    field = dialog["components"][0]["components"][0]
    assert field["value"] == "portrait: --ar 2:3 --stylize 250\nwarm: --chaos 10"
    await fill(fake_discord, panel_id, "suffix", "")
    await imagine(fake_discord, "a bare prompt")
    assert prompts_sent(sim)[-1] == "a bare prompt"


async def test_suffix_and_option_sets_are_validated_like_prompts(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    added = await fake_discord.slash(
        ("mjadmin", "words", "add"), {"word": "dragon"}, user=fake_discord.users["mod"]
    )
    await added.wait_original(lambda m: "dragon" in m.get("content", ""))
    panel_id = int((await open_panel(fake_discord))["id"])

    async def refusal(button: str, text: str) -> str:
        opened = await fake_discord.click(panel_id, f"mj1:s:{button}")
        await opened.wait_response()
        submitted = await fake_discord.submit_modal(opened, {"text": text})
        reply = await submitted.wait_original(lambda m: m.get("content"))
        assert submitted.ephemeral
        return str(reply["content"])

    assert "**dragon**" in await refusal("suffix", "with a D.R.A.G.O.N")
    assert "**dragon**" in await refusal("sets", "beast: a dragon --ar 1:1")
    assert "Line 1 is not" in await refusal("sets", "just parameters --stylize 50")
    assert "named twice" in await refusal("sets", "a: --ar 1:1\nA: --ar 2:3")
    eleven = "\n".join(f"set{n}: --seed {n}" for n in range(11))
    assert "11 option sets" in await refusal("sets", eleven)
    assert "cannot use `--sets`" in await refusal("suffix", "--sets portrait")
    assert "Suffix" not in fake_discord.messages[panel_id]["content"]  # nothing was saved
