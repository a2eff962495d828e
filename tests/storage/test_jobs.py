"""JobRepository: the life of a job, its messages and its buttons."""

from __future__ import annotations

import pytest

from storage import JobButton, MessageTaken, NewJob, Repositories, TaskAlreadyTracked
from tests.storage.support import T0, FakeClock, new_job

BUTTONS = [
    JobButton("MJ::JOB::upsample::1::abc", "U1", "", 2),
    JobButton("MJ::JOB::variation::1::abc", "V1", "", 2),
]


async def test_create_submitting_records_everything(repos: Repositories) -> None:
    job = await repos.jobs.create_submitting(
        guild_id=1,
        channel_id=100,
        requester_id=10,
        kind="imagine",
        action="imagine",
        prompt="a red fox",
        units=1.0,
        locale="en-US",
        deadline_at=T0 + 900,
    )
    assert job.state == "submitting"
    assert job.task_id is None
    assert (job.guild_id, job.channel_id, job.requester_id) == (1, 100, 10)
    assert (job.kind, job.action, job.prompt, job.locale) == (
        "imagine",
        "imagine",
        "a red fox",
        "en-US",
    )
    assert job.created_at == job.updated_at == T0
    assert job.deadline_at == T0 + 900
    assert job.buttons == ()
    assert not job.is_terminal
    assert await repos.jobs.get(job.id) == job


async def test_create_from_new_job(repos: Repositories) -> None:
    parent = await new_job(repos)
    child = await repos.jobs.create(
        NewJob(
            1,
            100,
            11,
            "action",
            "upscale",
            "a red fox",
            parent_job_id=parent.id,
            custom_id="MJ::JOB::upsample::1::abc",
            button_index=0,
        )
    )
    assert (child.parent_job_id, child.custom_id, child.button_index) == (
        parent.id,
        "MJ::JOB::upsample::1::abc",
        0,
    )
    assert await repos.jobs.children(parent.id) == [child]
    with pytest.raises(ValueError, match="kind"):
        await repos.jobs.create(NewJob(1, 100, 11, "paint", "x", "y"))  # type: ignore[arg-type]


async def test_mark_submitted_stores_the_task(repos: Repositories, clock: FakeClock) -> None:
    job = await new_job(repos)
    clock.advance(2)
    job = await repos.jobs.mark_submitted(job.id, "task-1", "queued", queue_position=4)
    assert (job.task_id, job.state, job.queue_position, job.submitted_at) == (
        "task-1",
        "queued",
        4,
        T0 + 2,
    )
    assert await repos.jobs.get_by_task_id("task-1") == job
    assert await repos.jobs.get_by_task_id("task-2") is None


async def test_a_task_is_tracked_by_one_job(repos: Repositories) -> None:
    first, second = await new_job(repos), await new_job(repos)
    await repos.jobs.mark_submitted(first.id, "task-1")
    with pytest.raises(TaskAlreadyTracked) as caught:
        await repos.jobs.mark_submitted(second.id, "task-1")
    assert caught.value.job_id == first.id
    assert (await repos.jobs.get(second.id)).state == "submitting"  # type: ignore[union-attr]


async def test_mark_unknown_only_from_submitting(repos: Repositories) -> None:
    job = await new_job(repos)
    assert await repos.jobs.mark_unknown(job.id, "restarted during submit")
    unknown = await repos.jobs.get(job.id)
    assert unknown is not None and unknown.state == "unknown" and unknown.is_terminal
    assert unknown.failure == "restarted during submit" and unknown.finished_at == T0
    other = await new_job(repos)
    await repos.jobs.mark_submitted(other.id, "task-9")
    assert not await repos.jobs.mark_unknown(other.id, "no")
    assert (await repos.jobs.get(other.id)).state == "submitted"  # type: ignore[union-attr]


async def test_update_progress_reports_changes_only(repos: Repositories, clock: FakeClock) -> None:
    job = await new_job(repos)
    await repos.jobs.mark_submitted(job.id, "task-1")
    clock.advance(5)
    assert await repos.jobs.update_progress(
        job.id, state="in_progress", progress=10, status_text="10%", preview_url="https://p/1.png"
    )
    assert not await repos.jobs.update_progress(
        job.id, state="in_progress", progress=10, status_text="10%", preview_url="https://p/1.png"
    )
    clock.advance(5)
    assert await repos.jobs.update_progress(
        job.id, state="in_progress", progress=50, status_text="50%"
    )
    stored = await repos.jobs.get(job.id)
    assert stored is not None
    assert (stored.progress, stored.status_text, stored.preview_url) == (50, "50%", None)
    assert stored.started_at == T0 + 5  # first time in progress, kept afterwards
    assert stored.updated_at == T0 + 10
    with pytest.raises(ValueError, match="complete"):
        await repos.jobs.update_progress(job.id, state="success")
    with pytest.raises(ValueError, match="unknown job state"):
        await repos.jobs.update_progress(job.id, state="sleeping")  # type: ignore[arg-type]


async def test_queue_position_and_modal(repos: Repositories) -> None:
    job = await new_job(repos)
    await repos.jobs.mark_submitted(job.id, "task-1", "queued", 3)
    assert await repos.jobs.update_progress(job.id, state="queued", queue_position=2)
    assert await repos.jobs.update_progress(job.id, state="modal")
    stored = await repos.jobs.get(job.id)
    assert stored is not None and stored.state == "modal" and stored.queue_position is None


async def test_complete_success_with_buttons(repos: Repositories, clock: FakeClock) -> None:
    job = await new_job(repos)
    await repos.jobs.mark_submitted(job.id, "task-1")
    clock.advance(60)
    proxy_shape = {
        "customId": "MJ::JOB::reroll::0::abc::SOLO",
        "label": "",
        "emoji": "🔄",
        "style": 2,
    }
    assert await repos.jobs.complete(
        job.id,
        state="success",
        image_url="https://cdn/1.png",
        buttons=[*BUTTONS, proxy_shape],
        final_prompt="a red fox --v 6",
    )
    done = await repos.jobs.get(job.id)
    assert done is not None and done.is_terminal
    assert (done.state, done.progress, done.image_url) == ("success", 100, "https://cdn/1.png")
    assert done.final_prompt == "a red fox --v 6" and done.finished_at == T0 + 60
    assert done.buttons == (*BUTTONS, JobButton("MJ::JOB::reroll::0::abc::SOLO", "", "🔄", 2))
    assert done.button(1) == BUTTONS[1]
    assert done.button(3) is None and done.button(-1) is None
    # Finished jobs do not change any more.
    assert not await repos.jobs.complete(job.id, state="failure", failure="late")
    assert not await repos.jobs.update_progress(job.id, state="in_progress", progress=1)
    assert await repos.jobs.set_attachment(job.id, "https://discord/attachments/1.png")
    stored = await repos.jobs.get(job.id)
    assert stored is not None and stored.state == "success"
    assert stored.attachment_url == "https://discord/attachments/1.png"
    with pytest.raises(ValueError, match="terminal"):
        await repos.jobs.complete(job.id, state="queued")


async def test_failure_and_cancel(repos: Repositories) -> None:
    failed, cancelled = await new_job(repos), await new_job(repos)
    assert await repos.jobs.complete(failed.id, state="failure", failure="banned prompt")
    assert await repos.jobs.cancel(cancelled.id, "cancelled by a moderator")
    assert not await repos.jobs.cancel(cancelled.id, "twice")
    f, c = await repos.jobs.get(failed.id), await repos.jobs.get(cancelled.id)
    assert f is not None and (f.state, f.failure, f.buttons) == ("failure", "banned prompt", ())
    assert c is not None and (c.state, c.failure) == ("cancelled", "cancelled by a moderator")


async def test_unfinished_includes_submitting_not_terminal(repos: Repositories) -> None:
    submitting = await new_job(repos)
    running = await new_job(repos)
    await repos.jobs.mark_submitted(running.id, "task-1")
    done = await new_job(repos)
    await repos.jobs.complete(done.id, state="success")
    unknown = await new_job(repos)
    await repos.jobs.mark_unknown(unknown.id, "?")
    assert [j.id for j in await repos.jobs.unfinished()] == [submitting.id, running.id]


async def test_messages_map_to_their_job(repos: Repositories, clock: FakeClock) -> None:
    job = await new_job(repos)
    first = await repos.jobs.add_message(
        5001, job.id, 100, 1, interaction_token="tok-1", token_expires_at=T0 + 900
    )
    clock.advance(1)
    second = await repos.jobs.add_message(5002, job.id, 100, 1, purpose="reply")
    assert first.token_valid(T0) and not first.token_valid(T0 + 900)
    assert not second.token_valid(T0) and second.purpose == "reply"
    assert await repos.jobs.job_for_message(5001) == await repos.jobs.get(job.id)
    assert await repos.jobs.job_for_message(5002) == await repos.jobs.get(job.id)
    assert await repos.jobs.job_for_message(9999) is None
    assert [m.message_id for m in await repos.jobs.messages_for_job(job.id)] == [5001, 5002]
    # Re-adding refreshes the token; a message never changes job.
    refreshed = await repos.jobs.add_message(
        5002, job.id, 100, 1, interaction_token="tok-2", token_expires_at=T0 + 1000
    )
    assert refreshed.interaction_token == "tok-2" and refreshed.created_at == T0 + 1
    other = await new_job(repos)
    with pytest.raises(MessageTaken):
        await repos.jobs.add_message(5001, other.id, 100, 1)
    assert (await repos.jobs.get_message(5001)).job_id == job.id  # type: ignore[union-attr]


async def test_expired_tokens_are_forgotten(repos: Repositories, clock: FakeClock) -> None:
    job = await new_job(repos)
    await repos.jobs.add_message(
        1, job.id, 100, 1, interaction_token="a", token_expires_at=T0 + 900
    )
    await repos.jobs.add_message(
        2, job.id, 100, 1, interaction_token="b", token_expires_at=T0 + 2000
    )
    clock.advance(901)
    assert await repos.jobs.clear_expired_tokens() == 1
    assert (await repos.jobs.get_message(1)).interaction_token is None  # type: ignore[union-attr]
    assert (await repos.jobs.get_message(2)).interaction_token == "b"  # type: ignore[union-attr]


async def test_button_uses_and_idempotent_children(repos: Repositories, clock: FakeClock) -> None:
    parent = await new_job(repos)
    assert await repos.jobs.child_for_button(parent.id, 0) is None
    assert await repos.jobs.used_buttons(parent.id) == frozenset()
    child = await new_job(repos, parent_job_id=parent.id, button_index=0, action="upscale")
    await repos.jobs.record_button_use(parent.id, 0, 10, child.id)
    clock.advance(1)
    await repos.jobs.record_button_use(parent.id, 0, 11)  # a later click pointed to the same child
    clock.advance(1)
    await repos.jobs.record_button_use(parent.id, 4, 10)
    assert await repos.jobs.child_for_button(parent.id, 0) == child.id
    assert await repos.jobs.child_for_button(parent.id, 4) is None
    assert await repos.jobs.used_buttons(parent.id) == frozenset({0, 4})
    retry = await new_job(repos, parent_job_id=parent.id, button_index=0, action="upscale")
    await repos.jobs.record_button_use(parent.id, 0, 10, retry.id)
    assert await repos.jobs.child_for_button(parent.id, 0) == retry.id


async def test_same_instant_clicks_do_not_collide(repos: Repositories) -> None:
    parent = await new_job(repos)
    child = await new_job(repos, parent_job_id=parent.id, button_index=1)
    await repos.jobs.record_button_use(parent.id, 1, 10)
    await repos.jobs.record_button_use(parent.id, 1, 10, child.id)
    assert await repos.jobs.child_for_button(parent.id, 1) == child.id


async def test_guild_and_user_queries(repos: Repositories, clock: FakeClock) -> None:
    a1 = await new_job(repos, guild_id=1, requester_id=10)
    clock.advance(10)
    a2 = await new_job(repos, guild_id=1, requester_id=11)
    clock.advance(10)
    b1 = await new_job(repos, guild_id=2, requester_id=10)
    clock.advance(10)
    a3 = await new_job(repos, guild_id=1, requester_id=10)
    await repos.jobs.complete(a3.id, state="success")
    dm = await new_job(repos, guild_id=None, requester_id=10)

    assert [j.id for j in await repos.jobs.jobs_in_flight(1)] == [a1.id, a2.id]
    assert [j.id for j in await repos.jobs.jobs_in_flight(1, 10)] == [a1.id]
    assert [j.id for j in await repos.jobs.jobs_in_flight(2)] == [b1.id]
    assert [j.id for j in await repos.jobs.jobs_in_flight(None)] == [dm.id]
    assert [j.id for j in await repos.jobs.recent_jobs(1)] == [a3.id, a2.id, a1.id]
    assert [j.id for j in await repos.jobs.recent_jobs(1, limit=1)] == [a3.id]
    assert [j.id for j in await repos.jobs.recent_jobs(1, 10)] == [a3.id, a1.id]
    assert [j.id for j in await repos.jobs.recent_jobs(2, 11)] == []
    assert [j.id for j in await repos.jobs.jobs_between(1, T0, T0 + 30)] == [a1.id, a2.id]
    assert [j.id for j in await repos.jobs.jobs_between(1, T0 + 10, T0 + 31)] == [a2.id, a3.id]
    assert await repos.jobs.jobs_between(3, T0, T0 + 100) == []


async def test_a_click_whose_job_failed_does_not_count_as_used(
    repos: Repositories, clock: FakeClock
) -> None:
    parent = await new_job(repos)
    refused = await new_job(repos, parent_job_id=parent.id, button_index=2, action="upscale")
    await repos.jobs.record_button_use(parent.id, 2, 10, refused.id)
    assert await repos.jobs.used_buttons(parent.id) == frozenset({2})
    await repos.jobs.complete(refused.id, state="failure", failure="queue full")
    assert await repos.jobs.used_buttons(parent.id) == frozenset()  # free to try again
    clock.advance(1)
    worked = await new_job(repos, parent_job_id=parent.id, button_index=2, action="upscale")
    await repos.jobs.record_button_use(parent.id, 2, 10, worked.id)
    assert await repos.jobs.used_buttons(parent.id) == frozenset({2})
