"""The API client against the simulator over real HTTP, in every backend mode."""

from __future__ import annotations

import logging
import socket

import pytest

from bot.midjourney.client import MidjourneyClient
from bot.midjourney.errors import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadResponseError,
    NotFoundError,
    RateLimitError,
    ServerError,
)
from bot.midjourney.models import Task
from bot.midjourney.outcomes import (
    BannedPrompt,
    Busy,
    ExistingTask,
    NeedsDialog,
    Queued,
    QueueFull,
    Rejected,
    SubmitOutcome,
    Submitted,
    Unavailable,
)
from bot.midjourney.simulator import FaultKind, Simulator
from tests.bot.midjourney.conftest import KEY, MakeClient, MakeSim, Sleeps

MODES = ("plus", "trueai", "new-api")
PNG_1PX = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
    "+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def _done(sim: Simulator, client: MidjourneyClient, task_id: str) -> Task:
    sim.advance(sim.seconds_per_job + 0.1)
    task = await client.fetch(task_id)
    assert task is not None and task.status == "SUCCESS"
    return task


async def _upscaled(sim: Simulator, client: MidjourneyClient) -> Task:
    grid = await client.imagine("a red fox")
    assert isinstance(grid, Submitted)
    task = await _done(sim, client, grid.task_id)
    upscale = await client.action(task.id, task.buttons[0].custom_id)
    assert isinstance(upscale, Submitted)
    return await _done(sim, client, upscale.task_id)


def _task_id(outcome: SubmitOutcome) -> str:
    assert isinstance(outcome, Submitted), outcome
    return outcome.task_id


def _button(task: Task, fragment: str) -> str:
    return next(b.custom_id for b in task.buttons if fragment in b.custom_id)


# ---- submit outcomes -------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
async def test_imagine_is_submitted_once_with_the_mode_auth_header(
    mode: str, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode)
    outcome = await make_client(sim).imagine("a red fox", state="g:1", notify_hook="http://h/x")
    assert isinstance(outcome, Submitted)
    assert outcome.task_id in sim.tasks and outcome.extra_ids == ()
    assert sim.submits == 1
    headers = sim.requests[0].headers
    expected = {"plus": ("mj-api-secret", KEY), "trueai": ("authorization", KEY)}
    name, value = expected.get(mode, ("authorization", f"Bearer {KEY}"))
    assert headers[name] == value
    assert sim.requests[0].json == {
        "prompt": "a red fox",
        "notifyHook": "http://h/x",
        "state": "g:1",
    }
    assert outcome.message_key == "submit.submitted" and outcome.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_busy_proxy_queues_the_job(
    mode: str, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode, max_concurrent=1)
    client = make_client(sim)
    assert isinstance(await client.imagine("first"), Submitted)
    outcome = await client.imagine("second")
    if mode == "new-api":  # new-api rewrites 22 to 1
        assert isinstance(outcome, Submitted)
    else:
        assert isinstance(outcome, Queued) and outcome.position == 1
        assert "1 job" in outcome.message


@pytest.mark.parametrize("mode", MODES)
async def test_a_full_queue_is_refused(
    mode: str, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode, max_concurrent=1, queue_limit=1)
    client = make_client(sim)
    await client.imagine("first")
    await client.imagine("second")
    outcome = await client.imagine("third")
    if mode == "trueai":  # trueai says "queue full" with code 9
        assert isinstance(outcome, Rejected) and outcome.code == 9
    else:
        assert outcome == QueueFull()
        assert outcome.message_key == "submit.queue_full"


@pytest.mark.parametrize("mode", ["plus", "new-api"])
async def test_a_banned_word_is_refused_with_the_word(
    mode: str, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode)
    outcome = await make_client(sim).imagine("a banned-word here")
    assert outcome == BannedPrompt("banned-word")
    assert "banned-word" in outcome.message and outcome.message_params == {"word": "banned-word"}


async def test_trueai_accepts_a_banned_word_and_fails_the_task(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("trueai")
    client = make_client(sim)
    outcome = await client.imagine("a banned-word here")
    assert isinstance(outcome, Submitted)
    task = await client.fetch(outcome.task_id)
    assert task is not None and task.status == "FAILURE" and task.fail_reason == "可能包含敏感词"


@pytest.mark.parametrize("mode", MODES)
async def test_custom_zoom_needs_a_dialog_then_a_valid_zoom(
    mode: str, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode)
    client = make_client(sim)
    upscale = await _upscaled(sim, client)
    outcome = await client.action(upscale.id, _button(upscale, "CustomZoom"))
    assert isinstance(outcome, NeedsDialog)
    assert outcome.prefill == "a red fox"
    assert outcome.message_key == "submit.needs_dialog"
    bad = await client.modal(outcome.task_id, prompt="a red fox --zoom 3")
    assert isinstance(bad, Rejected) and bad.code == 4
    good = await client.modal(outcome.task_id, prompt="a red fox --zoom 1.5")
    assert good == Submitted(outcome.task_id)


@pytest.mark.parametrize("mode", MODES)
async def test_vary_region_needs_a_png_mask(
    mode: str, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode)
    client = make_client(sim)
    upscale = await _upscaled(sim, client)
    outcome = await client.action(upscale.id, _button(upscale, "Inpaint"))
    assert isinstance(outcome, NeedsDialog)
    assert isinstance(await client.modal(outcome.task_id, prompt="a hat"), Rejected)
    assert isinstance(
        await client.modal(outcome.task_id, prompt="a hat", mask_base64=PNG_1PX), Submitted
    )


async def test_new_api_turns_a_remix_dialog_into_code_1_and_it_is_still_a_dialog(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("new-api", remix=True)
    client = make_client(sim)
    grid = await client.imagine("a red fox")
    assert isinstance(grid, Submitted)
    task = await _done(sim, client, grid.task_id)
    outcome = await client.action(task.id, _button(task, "variation::2"))
    assert isinstance(outcome, NeedsDialog)
    assert outcome == NeedsDialog(outcome.task_id, "a red fox", remix=True)
    assert sim.status_of(outcome.task_id) == "MODAL"


async def test_plus_remix_answers_21_with_remix(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("plus", remix=True)
    client = make_client(sim)
    grid = await client.imagine("a red fox")
    task = await _done(sim, client, _task_id(grid))
    outcome = await client.action(task.id, _button(task, "reroll"))
    assert isinstance(outcome, NeedsDialog) and outcome.remix


async def test_old_code_21_with_a_status_is_an_existing_task(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("plus")
    body = {
        "code": 21,
        "description": "任务已存在",
        "result": "0741798445574458",
        "properties": {"status": "success", "imageUrl": "https://x"},
    }
    sim.inject_reply("submit/action", body)
    outcome = await make_client(sim).action("1", "MJ::JOB::upsample::1::h")
    assert outcome == ExistingTask("0741798445574458", "SUCCESS")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"code": 1, "result": 1754393922800726, "properties": None},
            Submitted("1754393922800726"),
        ),
        (
            {"code": 1, "description": "Submit success", "result": "11,22,33"},
            Submitted("11", ("22", "33")),
        ),
        ({"code": 22, "result": "5", "properties": {"numberOfQueues": "3"}}, Queued("5", 3)),
        ({"code": 22, "result": "5", "properties": None}, Queued("5", None)),
        ({"code": 1, "description": "窗口等待", "result": "7"}, NeedsDialog("7", "", False)),
        ({"code": 24, "description": "可能包含敏感词", "properties": None}, BannedPrompt(None)),
        ({"code": 9, "description": "提交失败，系统异常"}, Rejected(9, "提交失败，系统异常")),
        ({"code": 1, "result": None}, Unavailable("code 1 without a task id", maybe_sent=True)),
        (
            {"description": "no code"},
            Unavailable("the answer carried no return code", maybe_sent=True),
        ),
        ([1, 2], Unavailable("the answer was not a JSON object", maybe_sent=True)),
    ],
)
async def test_backend_shapes_over_http(
    body: object, expected: object, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("plus")
    sim.inject_reply("submit/imagine", body)
    assert await make_client(sim).imagine("x") == expected


@pytest.mark.parametrize("mode", MODES)
async def test_action_on_an_unknown_parent_is_rejected(
    mode: str, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode)
    outcome = await make_client(sim).action("404404", "MJ::JOB::upsample::1::abc")
    assert isinstance(outcome, Rejected)
    assert outcome.code == (4 if mode == "new-api" else 3)
    assert outcome.description and outcome.message_key == "submit.rejected"


async def test_new_api_refuses_bookmark_with_its_error_message(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("new-api")
    client = make_client(sim)
    upscale = await _upscaled(sim, client)
    outcome = await client.action(upscale.id, _button(upscale, "BOOKMARK"))
    assert isinstance(outcome, Rejected) and outcome.http_status == 400
    assert outcome.description.startswith("Invalid request, unknown_action:MJ::BOOKMARK::")
    assert "{" not in outcome.message


async def test_new_api_400_with_a_queue_code_is_still_queue_full(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("new-api")
    body = {"description": "队列已满 ", "type": "upstream_error", "code": 23}
    sim.inject_reply("submit/imagine", body, status=400)
    assert await make_client(sim).imagine("x") == QueueFull()


async def test_trueai_picreader_all_gives_comma_joined_ids(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("trueai")
    client = make_client(sim)
    described = await client.describe(PNG_1PX)
    assert isinstance(described, Submitted)
    task = await _done(sim, client, described.task_id)
    outcome = await client.action(task.id, "MJ::Job::PicReader::all")
    assert isinstance(outcome, Submitted) and len(outcome.extra_ids) == 3
    assert outcome.message_params["count"] == "4"
    assert {outcome.task_id, *outcome.extra_ids} <= set(sim.tasks)


async def test_blend_and_shorten_submit(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("plus")
    client = make_client(sim)
    assert isinstance(await client.blend([PNG_1PX, PNG_1PX], "PORTRAIT"), Submitted)
    assert isinstance(await client.blend([PNG_1PX]), Rejected)
    assert isinstance(await client.shorten("a very long prompt about foxes"), Submitted)
    assert sim.requests[0].json == {"base64Array": [PNG_1PX, PNG_1PX], "dimensions": "PORTRAIT"}


# ---- auth ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("mode", "style", "accepted"),
    [
        ("plus", "mj-api-secret", True),
        ("plus", "bearer", False),
        ("trueai", "raw", True),
        ("trueai", "mj-api-secret", True),
        ("trueai", "bearer", False),  # trueai compares verbatim: "Bearer " is not stripped
        ("new-api", "bearer", True),
        ("new-api", "mj-api-secret", True),
        ("new-api", "raw", True),
    ],
)
async def test_auth_styles(
    mode: str, style: str, accepted: bool, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode)
    outcome = await make_client(sim, auth_style=style).imagine("x")
    if accepted:
        assert isinstance(outcome, Submitted)
    else:
        assert isinstance(outcome, Rejected) and outcome.http_status in (401, 403)
        assert outcome.message_key == "submit.key_refused"


@pytest.mark.parametrize("mode", MODES)
async def test_a_wrong_key_is_refused_on_submit_and_read(
    mode: str, make_sim: MakeSim, make_client: MakeClient, sleeps: Sleeps
) -> None:
    sim = await make_sim(mode)
    client = make_client(sim, api_key="wrong")
    outcome = await client.imagine("x")
    assert isinstance(outcome, Rejected) and outcome.http_status in (401, 403)
    assert "key" in outcome.message
    with pytest.raises(AuthenticationError) as caught:
        await client.fetch("1")
    assert "key" in caught.value.message
    assert sleeps.delays == []  # refused keys are not retried


async def test_an_empty_key_sends_no_auth_header(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("plus", api_key="")
    assert isinstance(await make_client(sim, api_key="").imagine("x"), Submitted)
    assert "mj-api-secret" not in sim.requests[0].headers
    assert "authorization" not in sim.requests[0].headers


async def test_the_key_is_never_logged(
    make_sim: MakeSim, make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.midjourney")
    sim = await make_sim("new-api")
    client = make_client(sim)
    sim.inject_fault("fetch", "http500")
    await client.imagine("x")
    await client.fetch("1")
    assert caplog.records
    assert KEY not in caplog.text and KEY not in repr(client)


# ---- the submit-once rule --------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["http500", "garbage", "html", "empty", "connection_close"])
async def test_a_submit_that_may_have_arrived_is_never_resent(
    kind: FaultKind, make_sim: MakeSim, make_client: MakeClient, sleeps: Sleeps
) -> None:
    sim = await make_sim("plus")
    sim.inject_fault("submit/imagine", kind, times=5)
    outcome = await make_client(sim).imagine("x")
    assert isinstance(outcome, Unavailable) and outcome.maybe_sent
    assert outcome.message_key == "submit.maybe_sent"
    assert "Traceback" not in outcome.message
    assert sim.count("submit/imagine") == 1
    assert sleeps.delays == []


async def test_a_submit_timeout_is_not_resent(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("plus")
    sim.inject_fault("submit/action", "timeout", times=5)
    outcome = await make_client(sim, timeout=0.2).action("1", "MJ::JOB::upsample::1::h")
    assert outcome == Unavailable("no answer in time", maybe_sent=True)
    assert sim.count("submit/action") == 1


async def test_a_refused_connection_is_retried_because_nothing_left(
    make_client: MakeClient, sleeps: Sleeps
) -> None:
    with socket.socket() as sock:  # a port that is certainly closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sim = Simulator("plus", public_base_url=f"http://127.0.0.1:{port}")
    outcome = await make_client(sim, max_read_retries=2).imagine("x")
    assert outcome == Unavailable("the address cannot be reached", maybe_sent=False)
    assert outcome.message_key == "submit.unavailable"
    assert len(sleeps.delays) == 2


async def test_rate_limited_submit_was_not_accepted(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("new-api")
    sim.inject_fault("submit/imagine", "http429")
    outcome = await make_client(sim).imagine("x")
    # The service answered: "slow down", not "cannot be reached"; its Retry-After is kept.
    assert outcome == Busy("rate_limited", 429, retry_after=1.0)
    assert outcome.message_key == "proxy.submit.rate_limited"
    assert sim.count("submit/imagine") == 1


# ---- reads -----------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
async def test_fetch_of_an_unknown_task_is_none(
    mode: str, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode)
    assert await make_client(sim).fetch("1234567890123456") is None


@pytest.mark.parametrize("mode", MODES)
async def test_fetch_follows_a_job_to_success(
    mode: str, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode, numeric_ids=True)
    client = make_client(sim)
    outcome = await client.imagine("a red fox --ar 3:2")
    assert isinstance(outcome, Submitted) and outcome.task_id.isdigit()
    sim.advance(sim.seconds_per_job / 2)
    task = await client.fetch(outcome.task_id)
    assert task is not None and task.id == outcome.task_id
    assert task.status == "IN_PROGRESS" and task.progress_pct == 50 and task.image_url
    assert not task.is_terminal and task.buttons == []
    done = await _done(sim, client, outcome.task_id)
    assert done.is_terminal and len(done.buttons) == 9 and done.final_prompt == "a red fox --ar 3:2"
    assert done.finish_time is not None and done.submit_time is not None


async def test_reads_retry_server_errors_with_growing_backoff(
    make_sim: MakeSim, make_client: MakeClient, sleeps: Sleeps
) -> None:
    sim = await make_sim("plus")
    client = make_client(sim, jitter=lambda: 1.0)
    outcome = await client.imagine("x")
    sim.inject_fault("fetch", "http500", times=2)
    task = await client.fetch(_task_id(outcome))
    assert task is not None
    assert sim.count("fetch") == 3
    assert sleeps.delays == [0.5, 1.0]


async def test_reads_give_up_after_the_retries(
    make_sim: MakeSim, make_client: MakeClient, sleeps: Sleeps
) -> None:
    sim = await make_sim("plus")
    sim.inject_fault("list-by-condition", "http500", times=10)
    with pytest.raises(ServerError) as caught:
        await make_client(sim, backoff_cap=0.7, jitter=lambda: 1.0).list_by_condition(["1"])
    assert caught.value.status_code == 500 and caught.value.message
    assert sim.count("list-by-condition") == 4
    assert sleeps.delays == [0.5, 0.7, 0.7]


async def test_reads_honour_retry_after(
    make_sim: MakeSim, make_client: MakeClient, sleeps: Sleeps
) -> None:
    sim = await make_sim("new-api")
    sim.inject_fault("fetch", "http429")
    await make_client(sim, jitter=lambda: 0.0).fetch("1")
    assert sleeps.delays == [1.0]
    sleeps.delays.clear()
    # A Retry-After longer than the backoff cap is not shortened: the caller waits it out.
    sim.inject_fault("fetch", "http429")
    with pytest.raises(RateLimitError) as caught:
        await make_client(sim, jitter=lambda: 0.0, backoff_cap=0.25).fetch("1")
    assert caught.value.retry_after == 1.0 and caught.value.kind == "rate_limited"
    assert sleeps.delays == [] and sim.count("fetch") == 3  # 2 for the first, 1: no retry


async def test_reads_retry_a_timeout(
    make_sim: MakeSim, make_client: MakeClient, sleeps: Sleeps
) -> None:
    sim = await make_sim("plus")
    client = make_client(sim, timeout=0.2)
    outcome = await client.imagine("x")
    sim.inject_fault("fetch", "timeout")
    assert await client.fetch(_task_id(outcome)) is not None
    assert sim.count("fetch") == 2 and len(sleeps.delays) == 1
    sim.inject_fault("fetch", "timeout", times=2)
    with pytest.raises(APITimeoutError):
        await make_client(sim, timeout=0.2, max_read_retries=1).fetch("1")


async def test_reads_retry_a_dropped_connection(
    make_sim: MakeSim, make_client: MakeClient, sleeps: Sleeps
) -> None:
    sim = await make_sim("plus")
    sim.inject_fault("fetch", "connection_close")
    assert await make_client(sim).fetch("1") is None
    assert sim.count("fetch") == 2


async def test_an_unreachable_proxy_raises_a_connection_error(make_client: MakeClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sim = Simulator("plus", public_base_url=f"http://127.0.0.1:{port}")
    with pytest.raises(APIConnectionError) as caught:
        await make_client(sim).fetch("1")
    assert "reached" in caught.value.message


@pytest.mark.parametrize("kind", ["garbage", "html"])
async def test_a_garbage_read_raises_bad_response(
    kind: FaultKind, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("plus")
    sim.inject_fault("fetch", kind)
    with pytest.raises(BadResponseError):
        await make_client(sim).fetch("1")


async def test_an_empty_read_is_an_unknown_task(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("plus")
    sim.inject_fault("fetch", "empty")
    assert await make_client(sim).fetch("1") is None
    sim.inject_reply("fetch", None)
    assert await make_client(sim).fetch("1") is None


async def test_tolerant_task_parsing_over_http(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("plus")
    body = {
        "id": 1748339029401828,
        "status": "in_progress",
        "progress": "Waiting to start",
        "properties": None,
        "buttons": None,
        "submitTime": 0,
        "imageUrls": [{"url": "https://a/0_0.png", "thumbnail": "t"}],
        "somethingNew": {"x": 1},
    }
    sim.inject_reply("fetch", body)
    task = await make_client(sim).fetch("1748339029401828")
    assert task is not None and task.id == "1748339029401828" and task.status == "IN_PROGRESS"
    assert task.progress_pct is None and task.progress_text == "Waiting to start"
    assert task.properties == {} and task.buttons == [] and task.submit_time is None
    assert task.image_urls == ["https://a/0_0.png"] and task.final_prompt is None


@pytest.mark.parametrize("mode", MODES)
async def test_list_by_condition_returns_known_tasks(
    mode: str, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode)
    client = make_client(sim)
    outcome = await client.imagine("x")
    assert isinstance(outcome, Submitted)
    tasks = await client.list_by_condition([outcome.task_id, "999"])
    assert [t.id for t in tasks] == [outcome.task_id]
    assert await client.list_by_condition([]) == []


async def test_list_by_condition_404_lets_the_tracker_fall_back(
    make_sim: MakeSim, make_client: MakeClient, sleeps: Sleeps
) -> None:
    sim = await make_sim("plus", supports_list=False)
    with pytest.raises(NotFoundError):
        await make_client(sim).list_by_condition(["1"])
    assert sleeps.delays == []


@pytest.mark.parametrize(
    ("mode", "supported"), [("plus", True), ("trueai", True), ("new-api", False)]
)
async def test_cancel(
    mode: str, supported: bool, make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim(mode)
    client = make_client(sim)
    outcome = await client.imagine("x")
    assert await client.cancel(_task_id(outcome)) is supported
    if supported:
        assert sim.status_of(_task_id(outcome)) in ("CANCEL", "FAILURE")


async def test_image_seed(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("plus")
    client = make_client(sim)
    outcome = await client.imagine("x")
    assert isinstance(outcome, Submitted)
    assert await client.image_seed(outcome.task_id) is None  # not finished yet
    await _done(sim, client, outcome.task_id)
    seed = await client.image_seed(outcome.task_id)
    assert seed is not None and seed.isdigit()


async def test_the_client_closes_once(make_sim: MakeSim) -> None:
    sim = await make_sim("plus")
    async with MidjourneyClient(sim.base_url, "mj/", KEY, "mj-api-secret") as client:
        assert client.endpoint("task/1/fetch") == f"{sim.base_url}/mj/task/1/fetch"
        assert isinstance(await client.imagine("x"), Submitted)
    await client.aclose()


async def test_a_saturated_relay_is_not_asked_again_at_once(
    make_sim: MakeSim, make_client: MakeClient, sleeps: Sleeps
) -> None:
    sim = await make_sim("new-api", quirks=["saturated-429"])
    with pytest.raises(RateLimitError) as caught:
        await make_client(sim).list_by_condition(["1"])
    assert caught.value.kind == "saturated"
    assert sim.count("list-by-condition") == 1 and sleeps.delays == []
