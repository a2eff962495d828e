"""Job -> message rendering: pure, so tested without Discord."""

from __future__ import annotations

from bot.render import progress_bar, render_job
from storage.records import JobButton
from tests.bot.factories import job

H = "0ddb91a0-af46-4ae9-8e8e-c271074eb6e6"
GRID = tuple(
    JobButton(cid)
    for cid in [
        *(f"MJ::JOB::upsample::{i}::{H}" for i in range(1, 5)),
        f"MJ::JOB::reroll::0::{H}::SOLO",
        *(f"MJ::JOB::variation::{i}::{H}" for i in range(1, 5)),
    ]
)


def names(rows: tuple[tuple[object, ...], ...]) -> list[list[str]]:
    return [[getattr(b, "label", None) or getattr(b, "emoji", "") for b in row] for row in rows]


def test_progress_bar() -> None:
    assert progress_bar(0) == "▱" * 10
    assert progress_bar(31) == "▰▰▰▱▱▱▱▱▱▱"
    assert progress_bar(100) == "▰" * 10
    assert progress_bar(250) == "▰" * 10


def test_states_render_their_status() -> None:
    assert "Waiting to start" in render_job(job(), locale="en", backend="plus").content
    queued = render_job(job(state="queued", queue_position=3), locale="en", backend="plus")
    assert "3 ahead" in queued.content
    running = render_job(
        job(state="in_progress", progress=40, preview_url="http://p/x.webp"),
        locale="en",
        backend="plus",
    )
    assert (
        "40%" in running.content and running.preview_url == "http://p/x.webp" and not running.rows
    )
    text = render_job(
        job(state="in_progress", status_text="Waiting to start"), locale="en", backend="plus"
    )
    assert "Waiting to start" in text.content


def test_failures_render_our_keys_and_the_proxy_text() -> None:
    banned = render_job(
        job(state="failure", failure="mjbot:submit.banned_prompt:nude"), locale="en", backend="plus"
    )
    assert "nude" in banned.content and "mjbot:" not in banned.content
    proxy = render_job(job(state="failure", failure="任务超时"), locale="en", backend="plus")
    assert "gave up on the job after it took too long" in proxy.content
    assert not proxy.rows
    odd = render_job(job(state="failure", failure="奇怪的错误"), locale="en", backend="plus")
    assert "the image service gave this reason: “奇怪的错误”" in odd.content


def test_grid_buttons_in_midjourney_rows_with_used_marks() -> None:
    done = job(state="success", buttons=GRID, image_url="http://i/x.png", attachment_url="http://a")
    rendered = render_job(done, locale="en", backend="plus", used=[1])
    assert names(rendered.rows) == [
        ["U1", "U2", "U3", "U4", "🔄"],
        ["V1", "V2", "V3", "V4"],
        ["Send to DM", "🗑️"],
    ]
    assert [b.custom_id for b in rendered.rows[2]] == [f"mj1:m:{done.id}", f"mj1:x:{done.id}"]
    assert rendered.rows[0][1].style == "primary" and rendered.rows[0][0].style == "secondary"
    assert rendered.rows[0][1].custom_id == "mj1:b:7:1"
    assert all(len(b.custom_id) <= 100 for row in rendered.rows for b in row)


def test_backend_rejected_buttons_are_hidden() -> None:
    buttons = (
        JobButton("MJ::Job::PicReader::1"),
        JobButton("MJ::Picread::Retry"),
        JobButton(f"MJ::BOOKMARK::{H}"),
    )
    describe = job(
        kind="describe",
        action="describe",
        state="success",
        buttons=buttons,
        final_prompt="1️⃣ a cat\n\n2️⃣ a dog\n\n3️⃣ a bird\n\n4️⃣ a fish",
    )
    plus = render_job(describe, locale="en", backend="plus")
    relay = render_job(describe, locale="en", backend="new-api")
    assert "2️⃣ a dog" in plus.content
    plus_ids = [b.custom_id for row in plus.rows for b in row]
    relay_ids = [b.custom_id for row in relay.rows for b in row]
    assert "mj1:p:7:1" in plus_ids and "mj1:p:7:0" in plus_ids  # picks, Imagine all
    assert "mj1:b:7:1" in plus_ids  # Retry where accepted
    assert "mj1:b:7:1" not in relay_ids  # new-api rejects Picread::Retry
    assert "mj1:b:7:2" not in plus_ids  # ❤️ is accepted nowhere


def test_content_stays_inside_discord_limits() -> None:
    long = render_job(job(prompt="x" * 5000), locale="en", backend="plus")
    assert len(long.content) <= 2000


def test_child_jobs_say_which_button_made_them() -> None:
    upscale = job(kind="action", action="upscale", custom_id=f"MJ::JOB::upsample::2::{H}")
    assert "Upscale (U2) by <@3>" in render_job(upscale, locale="en", backend="plus").content
    pan = job(kind="action", action="pan", custom_id=f"MJ::JOB::pan_left::1::{H}::SOLO")
    assert "Pan ⬅️ by" in render_job(pan, locale="en", backend="plus").content
    odd = job(kind="action", action="video_upscale", custom_id="MJ::Something::new")
    assert "Action by" in render_job(odd, locale="en", backend="plus").content


def test_shorten_and_describe_results_keep_the_asked_prompt_as_headline() -> None:
    shortened = job(
        kind="shorten",
        action="shorten",
        state="success",
        prompt="a very very beautiful majestic castle",
        final_prompt="## Important tokens\n**castle**\n## Shortened prompts\n1️⃣ castle",
    )
    content = render_job(shortened, locale="en", backend="plus").content
    assert content.startswith("**a very very beautiful majestic castle** -")
    assert content.count("Important tokens") == 1 and "##" not in content
    assert "✅" in content


def test_running_jobs_say_when_the_proxy_is_not_answering() -> None:
    running = job(state="in_progress", progress=40)
    assert (
        "not answering" in render_job(running, locale="en", backend="plus", proxy_down=True).content
    )
    assert "not answering" not in render_job(running, locale="en", backend="plus").content
    done = job(state="success", buttons=GRID, attachment_url="x")
    assert (
        "not answering"
        not in render_job(done, locale="en", backend="plus", proxy_down=True).content
    )


def test_prompts_and_proxy_words_are_shown_literally() -> None:
    hostile = job(prompt="[Claim free Nitro](https://evil.example) **now**", state="queued")
    content = render_job(hostile, locale="en", backend="plus").content
    assert "\\[Claim free Nitro](https://evil.example) \\*\\*now\\*\\*" in content
    failed = job(state="failure", failure="oops [click](https://evil.example)")
    assert "\\[click]" in render_job(failed, locale="en", backend="plus").content


def test_forged_button_ids_are_refused_when_parsed() -> None:
    from bot.render import parse_job_button_id, pick_button_id, result_button_id

    assert parse_job_button_id(result_button_id(7, 3)) == ("b", 7, 3)
    assert parse_job_button_id(result_button_id(7, 3, dialog=True)) == ("z", 7, 3)
    assert parse_job_button_id(pick_button_id(7, 0)) == ("p", 7, 0)
    assert parse_job_button_id("mj1:d:7") == ("d", 7, 0)
    assert parse_job_button_id("mj1:b:" + "9" * 90 + ":1") is None
    assert parse_job_button_id(f"mj1:b:{2**63}:1") is None
    assert parse_job_button_id(f"mj1:b:{2**63 - 1}:1") == ("b", 2**63 - 1, 1)
    assert parse_job_button_id("mj1:b:0:1") is None
    assert parse_job_button_id("mj1:b:5:100") is None
    assert parse_job_button_id("mj1:d:5:1") is None


def test_a_progress_in_another_script_comes_after_our_words() -> None:
    queued = job(state="in_progress", status_text="排队中")
    english = render_job(queued, locale="en", backend="plus").content
    assert "⏳ Working (the image service says “排队中”)" in english
    chinese = render_job(queued, locale="zh-CN", backend="plus").content
    assert "⏳ 排队中" in chinese


def test_describe_and_shorten_results_are_shown_literally() -> None:
    described = job(
        kind="describe",
        action="describe",
        state="success",
        final_prompt="1️⃣ [free](https://evil.example) cat\n\n2️⃣ a __dog__",
    )
    content = render_job(described, locale="en", backend="plus").content
    assert "1️⃣ \\[free](https://evil.example) cat" in content and "2️⃣ a \\_\\_dog\\_\\_" in content
    shortened = job(
        kind="shorten",
        action="shorten",
        state="success",
        final_prompt="## Important tokens\n**red_fox** **x**\n## Shortened prompts\n1️⃣ ||red|| fox",
    )
    content = render_job(shortened, locale="en", backend="plus").content
    assert "red\\_fox" in content and "1️⃣ \\|\\|red\\|\\| fox" in content
