"""/blend, /describe, /shorten and /imagine's reference image, end to end, with bad inputs."""

from __future__ import annotations

import base64
import io
import random
from typing import Any

import pytest
from PIL import Image

from bot.errors import UserFacingError
from bot.midjourney.simulator import Simulator
from bot.prompts import parse_describe_prompts, parse_shorten
from bot.requester import Requester
from tests.e2e.conftest import StartBot
from tests.e2e.steps import parent_of
from tests.e2e.test_imagine import custom_ids, labels
from tests.fakes.discord import FakeDiscord

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
TEXT = b"just some notes, not an image at all\n"


def png(colour: tuple[int, int, int] = (200, 40, 40), size: int = 32) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (size, size), colour).save(out, format="PNG")
    return out.getvalue()


def noisy_png(size: int = 96) -> bytes:
    """A PNG that does not compress: larger than a few KiB."""
    rng = random.Random(7)
    image = Image.frombytes(
        "RGB", (size, size), bytes(rng.randrange(256) for _ in range(size**2 * 3))
    )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def bodies(sim: Simulator, suffix: str) -> list[dict[str, Any]]:
    return [r.json for r in sim.requests if r.path.endswith(suffix)]


def public(fake: FakeDiscord, text: str) -> Any:
    """A predicate: a non-ephemeral message containing `text`."""

    def match(m: dict[str, Any]) -> bool:
        return text in m.get("content", "") and not fake.store.meta[int(m["id"])].ephemeral

    return match


def job_of(message: dict[str, Any], prefix: str) -> int:
    ids = [cid for cid in custom_ids(message) if cid.startswith(prefix)]
    assert ids, f"no {prefix} button on {message}"
    return int(ids[0].split(":")[2])


async def finished(fake: FakeDiscord, message_id: int, prefix: str) -> dict[str, Any]:
    return await fake.wait_for(
        lambda: (
            (m := fake.messages[message_id])
            and any(c.startswith(prefix) for c in custom_ids(m))
            and m
        )
    )


# ---- /blend ---------------------------------------------------------------------------------
async def test_blend_two_images_to_a_grid(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    handle = await fake_discord.slash(
        "blend",
        {"dimensions": "landscape"},
        attachments={"image1": ("a.png", png()), "image2": ("b.png", png((0, 90, 200)))},
    )
    assert (await handle.wait_response())["type"] == 5 and handle.ephemeral
    job_message = await fake_discord.wait_message(public(fake_discord, "**Blend**"))
    notice = await handle.wait_original(lambda m: "started" in m.get("content", ""))
    assert str(job_message["id"]) in notice["content"]

    [body] = bodies(sim, "/submit/blend")
    assert body["dimensions"] == "LANDSCAPE"
    assert len(body["base64Array"]) == 2
    assert body["base64Array"][0] == "data:image/png;base64," + base64.b64encode(png()).decode()

    sim.advance(15)
    final = await fake_discord.wait_for(
        lambda: (m := fake_discord.messages[int(job_message["id"])]).get("attachments") and m
    )
    assert labels(final)[:4] == ["U1", "U2", "U3", "U4"]


async def test_blend_refuses_a_pdf_before_sending_anything(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    handle = await fake_discord.slash(
        "blend", attachments={"image1": ("a.png", png()), "image2": ("scan.pdf", PDF)}
    )
    reply = await handle.wait_original(lambda m: "not an image" in m.get("content", ""))
    assert "scan.pdf" in reply["content"] and handle.ephemeral
    assert sim.submits == 0


async def test_blend_needs_two_to_five_images(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    # Discord itself refuses /blend without image2; the service holds the rule for any caller.
    running = await mjbot()
    who = Requester(
        user_id=fake_discord.user.id,
        channel_id=fake_discord.channel.id,
        guild_id=fake_discord.guild.id,
    )
    one = "data:image/png;base64," + base64.b64encode(png()).decode()
    for images in ([one], [one] * 6):
        with pytest.raises(UserFacingError) as refused:
            await running.services.jobs.plan_blend(who, images, "square")
        assert refused.value.key == "blend.count"
    assert await running.services.job_repo.recent_jobs(fake_discord.guild.id) == []
    assert sim.submits == 0


# ---- /describe ------------------------------------------------------------------------------
async def test_describe_then_imagine_a_prompt_all_of_them_and_retry(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(quota={"max_jobs_per_user": 0})
    handle = await fake_discord.slash("describe", attachments={"image": ("photo.png", png())})
    describe = await fake_discord.wait_message(public(fake_discord, "**Describe**"))
    await handle.wait_original(lambda m: "started" in m.get("content", ""))
    [body] = bodies(sim, "/submit/describe")
    assert body["base64"].startswith("data:image/png;base64,")

    sim.advance(15)
    result = await finished(fake_discord, int(describe["id"]), "mj1:p:")
    job_id = job_of(result, "mj1:p:")
    task = next(t for t in sim.tasks.values() if t.kind == "describe")
    prompts = parse_describe_prompts(task.final_prompt)
    assert len(prompts) == 4
    for prompt in prompts:
        assert prompt in result["content"]
    ids = custom_ids(result)
    assert [f"mj1:p:{job_id}:{n}" for n in (1, 2, 3, 4, 0)] == ids[:5]
    assert "Imagine all" in labels(result)
    retry = next(c for c in ids if c.startswith("mj1:b:"))  # Picread::Retry (plus accepts it)
    assert labels(result)[ids.index(retry)] == "Retry"

    # 2️⃣: a new /imagine of prompt 2 for the clicker, as a reply to the describe message.
    bob = fake_discord.users["bob"]
    click = await fake_discord.click(int(describe["id"]), f"mj1:p:{job_id}:2", user=bob)
    assert (await click.wait_response())["type"] == 5 and click.ephemeral
    child = await fake_discord.wait_message(public(fake_discord, f"**{prompts[1]}**"))
    assert child["message_reference"]["message_id"] == describe["id"]  # a reply, as before
    assert f"<@{bob.id}>" in child["content"]
    assert [b["prompt"] for b in bodies(sim, "/submit/imagine")] == [prompts[1]]
    await click.wait_original(lambda m: "started" in m.get("content", ""))

    # 🎉 Imagine all: one new /imagine per prompt.
    everything = await fake_discord.click(int(describe["id"]), f"mj1:p:{job_id}:0")
    # Picked prompts are replies in the channel: the fifth message in 5 s empties the channel's
    # bucket, and discord.py returns that request only once the bucket resets.
    await everything.wait_followups(4, timeout=12)
    assert [b["prompt"] for b in bodies(sim, "/submit/imagine")] == [prompts[1], *prompts]

    # 🔄 Retry: the proxy describes again; the new result has its own numbered buttons.
    again = await fake_discord.click(int(describe["id"]), retry)
    await again.wait_response()
    retried = await fake_discord.wait_message(
        lambda m: public(fake_discord, "**Describe**")(m) and parent_of(m) == int(describe["id"])
    )
    assert [b["customId"] for b in bodies(sim, "/submit/action")] == ["MJ::Picread::Retry"]
    sim.advance(15)
    second = await finished(fake_discord, int(retried["id"]), "mj1:p:")
    assert len([c for c in custom_ids(second) if c.startswith("mj1:p:")]) == 5


@pytest.mark.parametrize(
    ("filename", "data"), [("scan.pdf", PDF), ("notes.png", TEXT)], ids=["pdf", "renamed-text"]
)
async def test_describe_refuses_files_that_are_not_images(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot, filename: str, data: bytes
) -> None:
    await mjbot()
    handle = await fake_discord.slash("describe", attachments={"image": (filename, data)})
    reply = await handle.wait_original(lambda m: "not an image" in m.get("content", ""))
    assert filename in reply["content"] and handle.ephemeral
    assert sim.submits == 0


async def test_oversized_images_are_refused_unread(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot(jobs={"download_max_mb": 0.01})
    big = noisy_png()
    assert len(big) > 0.01 * 1024 * 1024
    for name, options in (
        ("describe", {"image": ("big.png", big)}),
        ("blend", {"image1": ("a.png", png()), "image2": ("big.png", big)}),
        ("imagine", {"image": ("big.png", big)}),
    ):
        values = {"prompt": "a red fox"} if name == "imagine" else {}
        handle = await fake_discord.slash(name, values, attachments=options)
        reply = await handle.wait_original(lambda m: "too large" in m.get("content", ""))
        assert "big.png" in reply["content"] and "0.01 MiB" in reply["content"]
        assert handle.ephemeral
    assert sim.submits == 0


# ---- /shorten -------------------------------------------------------------------------------
async def test_shorten_shows_tokens_and_imagines_a_shorter_prompt(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    prompt = "a majestic castle on a misty hill at sunset with dramatic clouds"
    handle = await fake_discord.slash("shorten", {"prompt": prompt})
    job_message = await fake_discord.wait_message(public(fake_discord, prompt))
    await handle.wait_original(lambda m: "started" in m.get("content", ""))
    assert [b["prompt"] for b in bodies(sim, "/submit/shorten")] == [prompt]

    sim.advance(15)
    result = await finished(fake_discord, int(job_message["id"]), "mj1:p:")
    task = next(t for t in sim.tasks.values() if t.kind == "shorten")
    tokens, shortened = parse_shorten(task.final_prompt)
    assert "Important tokens" in result["content"] and tokens[0] in result["content"]
    job_id = job_of(result, "mj1:p:")
    assert [c for c in custom_ids(result) if c.startswith("mj1:p:")] == [
        f"mj1:p:{job_id}:{n}" for n in range(1, len(shortened) + 1)
    ]
    click = await fake_discord.click(int(job_message["id"]), f"mj1:p:{job_id}:3")
    await click.wait_original(lambda m: "started" in m.get("content", ""))
    assert [b["prompt"] for b in bodies(sim, "/submit/imagine")] == [shortened[2]]


async def test_shorten_refuses_an_empty_prompt(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    handle = await fake_discord.slash("shorten", {"prompt": "   "})
    await handle.wait_original(lambda m: "prompt is empty" in m.get("content", ""))
    assert handle.ephemeral
    assert sim.submits == 0


# ---- /imagine image: ------------------------------------------------------------------------
async def test_imagine_reference_image_reaches_the_proxy_as_a_data_url(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    picture = png((10, 160, 60))
    handle = await fake_discord.slash(
        "imagine", {"prompt": "a green garden"}, attachments={"image": ("ref.png", picture)}
    )
    await handle.wait_original(lambda m: "started" in m.get("content", ""))
    [body] = bodies(sim, "/submit/imagine")
    assert body["prompt"] == "a green garden"
    assert body["base64Array"] == ["data:image/png;base64," + base64.b64encode(picture).decode()]


async def test_imagine_refuses_a_reference_that_is_not_an_image(
    fake_discord: FakeDiscord, sim: Simulator, mjbot: StartBot
) -> None:
    await mjbot()
    handle = await fake_discord.slash(
        "imagine", {"prompt": "a green garden"}, attachments={"image": ("ref.png", TEXT)}
    )
    await handle.wait_original(lambda m: "not an image" in m.get("content", ""))
    assert sim.submits == 0


async def test_descriptions_and_choices_are_translated(
    fake_discord: FakeDiscord, mjbot: StartBot
) -> None:
    await mjbot()
    synced = {c["name"]: c for c in fake_discord.commands[fake_discord.guild.id]}
    for name in ("blend", "describe", "shorten", "info", "settings"):
        assert synced[name]["description_localizations"]["zh-CN"]
    dimensions = next(o for o in synced["blend"]["options"] if o["name"] == "dimensions")
    assert not dimensions.get("required")
    names = {c["value"]: c["name_localizations"]["zh-CN"] for c in dimensions["choices"]}
    assert names == {"portrait": "竖版 (2:3)", "square": "正方形 (1:1)", "landscape": "横版 (3:2)"}
