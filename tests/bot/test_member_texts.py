"""What "Job info", "Usage", /history and /show's choices say (pure rendering)."""

from __future__ import annotations

from bot.member_texts import choice_label, render_history, render_job_info, render_usage
from bot.members import HistoryPage, JobInfo, Located, UsageReport
from storage.records import MessageRecord
from tests.bot.factories import job


def test_job_info_shows_the_prompt_sent_and_the_one_the_service_ran_when_they_differ() -> None:
    sent = job(prompt="一只红狐狸 --ar 2:3", final_prompt="a red fox --ar 2:3", state="success")
    text = render_job_info(JobInfo(sent, None, None, refunded=False), "en")
    assert "Prompt as sent: `一只红狐狸 --ar 2:3`" in text
    assert "Prompt the image service ran: `a red fox --ar 2:3`" in text
    same = job(prompt="a fox", final_prompt="a fox", state="success", units=1.0)
    text = render_job_info(JobInfo(same, None, None, refunded=False), "en")
    assert "ran" not in text and "Units charged: 1 unit" in text


def test_job_info_of_a_failed_child_names_its_parent_and_the_refund() -> None:
    parent = job(id=5, state="success")
    message = MessageRecord.__new__(MessageRecord)
    object.__setattr__(message, "message_id", 99)
    object.__setattr__(message, "channel_id", 2)
    failed = job(
        id=6,
        parent_job_id=5,
        kind="action",
        action="upscale",
        custom_id="MJ::JOB::upsample::2::x",
        state="failure",
        failure="upstream said no",
        units=2.0,
    )
    text = render_job_info(JobInfo(failed, None, Located(parent, message), refunded=True), "en")
    assert "Started from job #5: https://discord.com/channels/1/2/99" in text
    assert "Units charged: 2 units (given back" in text and "upstream said no" in text


def test_usage_history_and_choices() -> None:
    report = UsageReport(3, 1.0, 2.5, 1, 3, None, 1_700_000_000.0)
    text = render_usage(report, "en")
    assert "Today: **1** unit, 1 job\n" in text and "**2.5** units, 3 jobs" in text
    assert "no limit" in text
    assert "今天：**1** 点，1 个任务" in render_usage(report, "zh-CN")
    page = HistoryPage(1, 1, 1, (Located(job(prompt="a `quoted` fox"), None),))
    history = render_history(page, "en")
    assert "1 job in all" in history and "`a 'quoted' fox`" in history
    assert "message deleted" in history
    assert choice_label(job(created_at=0.0), "en") == "#7 · a red fox · 01-01 00:00 UTC"
