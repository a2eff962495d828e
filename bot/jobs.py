"""Starting jobs: checks, the crash-safe record-then-submit step, and what each outcome means."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.access import Gate, Limits, Policy
from bot.config import Settings
from bot.errors import UserFacingError
from bot.metrics import METRICS
from bot.midjourney.client import MidjourneyClient
from bot.midjourney.custom_ids import ButtonAction, accepted_by, parse_custom_id
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
from bot.personal_prompts import defaults_of, personalise
from bot.prompts import PromptError, UserDefaults, apply_defaults, validate_prompt
from bot.proxies import ProxyRegistry
from bot.render import shown_prompt
from bot.requester import Requester
from bot.tracker import TERMINAL_STATES
from storage.jobs import JobRecord, JobRepository, TaskAlreadyTracked
from storage.records import JobKind, NewJob
from storage.usage import UsageRepository
from storage.users import UserSettingsRepository

log = logging.getLogger(__name__)

Submit = Callable[[MidjourneyClient], Awaitable[SubmitOutcome]]
# Repeatable buttons clicked twice by the same member within this many seconds count once.
DEBOUNCE_SECONDS = 3.0


@dataclass(frozen=True)
class Plan:
    """A recorded, charged job waiting for its one submit."""

    job: JobRecord
    submit: Submit
    dialog_prompt: str | None = None
    dialog_mask: str | None = None


@dataclass(frozen=True)
class ExistingChild:
    """An idempotent button was used before: point at that job instead of paying twice."""

    job: JobRecord


class JobService:
    """The application's job operations; callers pass plain values and get records back."""

    def __init__(
        self,
        proxies: ProxyRegistry,
        jobs: JobRepository,
        usage: UsageRepository,
        users: UserSettingsRepository,
        gate: Gate,
        settings: Settings,
        *,
        notify_hook: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._proxies = proxies  # each job goes to its server's proxy, and stays with it
        self._jobs = jobs
        self._usage = usage
        self._users = users
        self.gate = gate
        self._settings = settings
        self._notify_hook = notify_hook
        self._clock = clock
        # One lock per clicked button while clicks on it are in hand; unused locks go away.
        self._click_locks: weakref.WeakValueDictionary[tuple[int, int], asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._recent_clicks: dict[tuple[int, int, int], float] = {}
        self.on_finished: Callable[[JobRecord], Awaitable[None]] | None = None

    # ---- planning: every check that may refuse, before anything is sent ------------------
    def _prompt(self, text: str) -> str:
        try:
            return validate_prompt(text, self._settings.jobs.max_prompt_length)
        except PromptError as exc:
            raise UserFacingError(exc.key, **exc.params) from None

    async def _personal_prompt(self, who: Requester, prompt: str) -> tuple[str, UserDefaults]:
        """The prompt with the member's option sets and suffix, and their /settings defaults."""
        text = self._prompt(prompt)
        if who.guild_id is None:
            return text, UserDefaults()
        record = await self._users.get(who.guild_id, who.user_id)
        limit = self._settings.jobs.max_prompt_length
        try:
            text = personalise(text, record.suffix, record.option_sets, limit)
        except PromptError as exc:
            raise UserFacingError(exc.key, **exc.params) from None
        return text, defaults_of(record)

    async def _record(
        self,
        who: Requester,
        policy: Policy,
        *,
        kind: JobKind,
        action: str,
        prompt: str,
        parent: JobRecord | None = None,
        custom_id: str | None = None,
        button_index: int | None = None,
    ) -> JobRecord:
        limits: Limits = await self.gate.limits(who, policy)
        # A click goes where its parent's task lives; a new job to the server's proxy now.
        proxy = await (
            self._proxies.for_click(parent) if parent else self._proxies.for_guild(who.guild_id)
        )
        now = self._clock()
        new = NewJob(
            kind=kind,
            action=action,
            prompt=prompt,
            guild_id=who.guild_id,
            channel_id=who.channel_id,
            requester_id=who.user_id,
            parent_job_id=parent.id if parent else None,
            custom_id=custom_id,
            button_index=button_index,
            locale=who.locale,
            deadline_at=now + self._settings.midjourney.job_timeout_minutes * 60,
            proxy_id=proxy.ref,
        )
        result = await self._usage.reserve_job(
            new,
            units=policy.units_for(action),
            user_quota=limits.user_quota,
            guild_cap=limits.guild_cap,
            max_user_in_flight=limits.max_user_in_flight,
            max_guild_in_flight=limits.max_guild_in_flight,
            since=limits.since,
        )
        if result.job is None:
            units = policy.units_for(action)
            raise UserFacingError(
                f"quota.{result.reason}",
                used=_num(result.used),
                limit=_num(result.limit),
                cost=_num(units),
                # The sentence's plural form follows the cost, or the running jobs.
                count=_num(result.used if "in_flight" in (result.reason or "") else units),
                left=_num(max(0.0, result.limit - result.used)),
            )
        return result.job

    async def plan_imagine(
        self, who: Requester, prompt: str, *, image_data_url: str | None = None
    ) -> Plan:
        policy = await self.gate.admit(who)
        text, defaults = await self._personal_prompt(who, prompt)
        await self.gate.check_words(who, text)
        final = apply_defaults(text, defaults)
        job = await self._record(who, policy, kind="imagine", action="imagine", prompt=final)
        images = [image_data_url] if image_data_url else None
        hook = self._notify_hook
        return Plan(job, lambda api: api.imagine(final, base64_array=images, notify_hook=hook))

    async def plan_blend(self, who: Requester, images: list[str], dimensions: str) -> Plan:
        policy = await self.gate.admit(who)
        if not 2 <= len(images) <= 5:
            raise UserFacingError("blend.count")
        job = await self._record(who, policy, kind="blend", action="blend", prompt="")
        dims = dimensions.upper()
        hook = self._notify_hook
        return Plan(job, lambda api: api.blend(images, dims, notify_hook=hook))  # type: ignore[arg-type]

    async def plan_describe(self, who: Requester, image_data_url: str) -> Plan:
        policy = await self.gate.admit(who)
        job = await self._record(who, policy, kind="describe", action="describe", prompt="")
        hook = self._notify_hook
        return Plan(job, lambda api: api.describe(image_data_url, notify_hook=hook))

    async def plan_shorten(self, who: Requester, prompt: str) -> Plan:
        policy = await self.gate.admit(who)
        text = self._prompt(prompt)
        await self.gate.check_words(who, text)
        job = await self._record(who, policy, kind="shorten", action="shorten", prompt=text)
        hook = self._notify_hook
        return Plan(job, lambda api: api.shorten(text, notify_hook=hook))

    async def button_of(
        self, job_id: int, index: int, *, message_id: int | None = None
    ) -> tuple[JobRecord, ButtonAction]:
        """The job and the MJ action behind one of our result buttons, or a refusal.

        The clicked message must belong to that job (when its mapping is recorded), and the
        index must name one of the task's stored buttons.
        """
        if message_id is not None:
            owner = await self._jobs.get_message(message_id)
            if owner is not None and owner.job_id != job_id:
                raise UserFacingError("click.unknown_button")
        job = await self._jobs.get(job_id)
        if job is None or job.state != "success":
            raise UserFacingError("click.unknown_job")
        if not 0 <= index < len(job.buttons):
            raise UserFacingError("click.unknown_button")
        action = parse_custom_id(job.buttons[index].custom_id)
        if not accepted_by(action.kind, (await self._proxies.for_job(job)).backend):
            raise UserFacingError("click.unsupported")
        return job, action

    async def plan_click(
        self,
        who: Requester,
        job_id: int,
        index: int,
        *,
        dialog_prompt: str | None = None,
        dialog_mask: str | None = None,
        message_id: int | None = None,
    ) -> Plan | ExistingChild:
        """Check and record a click on result button `index` of job `job_id`."""
        parent, action = await self.button_of(job_id, index, message_id=message_id)
        if action.needs_user_input and dialog_prompt is None and dialog_mask is None:
            raise UserFacingError("click.needs_dialog")
        if parent.guild_id != who.guild_id:
            raise UserFacingError("click.unknown_job")
        policy = await self.gate.admit(who)
        # The prompt this action will run, checked against today's list: a word banned since
        # the grid was made stops its 🔄, V1-V4, pan and zoom too.
        await self.gate.check_words(who, dialog_prompt or shown_prompt(parent))
        lock = self._click_locks.get((job_id, index))
        if lock is None:
            lock = self._click_locks[(job_id, index)] = asyncio.Lock()
        async with lock:
            if action.is_idempotent:
                child_id = await self._jobs.child_for_button(job_id, index)
                child = await self._jobs.get(child_id) if child_id is not None else None
                if child is not None and child.state not in ("failure", "cancelled", "unknown"):
                    return ExistingChild(child)
            else:
                self._debounce(who.user_id, job_id, index)
            job = await self._record(
                who,
                policy,
                kind="action",
                action=action.weight_key,
                prompt=shown_prompt(parent),
                parent=parent,
                custom_id=action.raw,
                button_index=index,
            )
            await self._jobs.record_button_use(job_id, index, who.user_id, job.id)
        task_id = parent.task_id or ""
        hook = self._notify_hook
        return Plan(
            job,
            lambda api: api.action(task_id, action.raw, notify_hook=hook),
            dialog_prompt=dialog_prompt,
            dialog_mask=dialog_mask,
        )

    def _debounce(self, user_id: int, job_id: int, index: int) -> None:
        now = self._clock()
        key = (user_id, job_id, index)
        last = self._recent_clicks.get(key)
        if last is not None and now - last < DEBOUNCE_SECONDS:
            raise UserFacingError("click.debounced")
        self._recent_clicks = {
            k: v for k, v in self._recent_clicks.items() if now - v < DEBOUNCE_SECONDS
        }
        self._recent_clicks[key] = now

    # ---- the one submit --------------------------------------------------------------------
    async def submit(self, plan: Plan) -> JobRecord:
        """Send the plan's request once and record what the proxy answered."""
        api = (await self._proxies.for_job(plan.job)).api
        outcome = await plan.submit(api)
        if isinstance(outcome, NeedsDialog) and (plan.dialog_prompt or plan.dialog_mask):
            await self._jobs.mark_submitted(plan.job.id, outcome.task_id, state="modal")
            outcome = await api.modal(
                outcome.task_id,
                prompt=plan.dialog_prompt,
                mask_base64=plan.dialog_mask,
                notify_hook=self._notify_hook,
            )
        return await self._apply(plan.job, outcome)

    async def submit_dialog(
        self, who: Requester, job_id: int, prompt: str, mask: str | None
    ) -> JobRecord:
        """Answer a dialog the proxy asked for after a click (remix, new-api)."""
        job = await self._jobs.get(job_id)
        if job is None or job.state != "modal" or job.task_id is None:
            raise UserFacingError("dialog.gone")
        if job.guild_id != who.guild_id:
            raise UserFacingError("dialog.gone")
        await self.gate.admit(who)
        text = self._prompt(prompt) if prompt.strip() else ""
        await self.gate.check_words(who, text or job.final_prompt or job.prompt)
        api = (await self._proxies.for_job(job)).api
        outcome = await api.modal(
            job.task_id, prompt=text or None, mask_base64=mask, notify_hook=self._notify_hook
        )
        return await self._apply(job, outcome)

    async def _apply(self, job: JobRecord, outcome: SubmitOutcome) -> JobRecord:
        job_id = job.id
        METRICS.submit_answered(outcome)
        match outcome:
            case ExistingTask(task_id=task_id):
                await self._adopt_existing(job_id, task_id)
            case Submitted(task_id=task_id):
                await self._jobs.mark_submitted(job_id, task_id, state="submitted")
            case Queued(task_id=task_id, position=position):
                await self._jobs.mark_submitted(
                    job_id, task_id, state="queued", queue_position=position
                )
            case NeedsDialog(task_id=task_id):
                await self._jobs.mark_submitted(job_id, task_id, state="modal")
            case Unavailable(maybe_sent=True):
                await self._jobs.complete(
                    job_id, state="unknown", failure="mjbot:job.failure.maybe_sent"
                )
                await self._usage.refund(job_id)
            case QueueFull() | BannedPrompt() | Rejected() | Busy() | Unavailable():
                await self._fail(job_id, outcome)
        proxy = await self._proxies.for_job(job)
        await proxy.tracker.health.submit_answered(outcome, job.guild_id)
        level = (
            logging.INFO
            if isinstance(outcome, Submitted | Queued | NeedsDialog | ExistingTask)
            else logging.WARNING
        )
        log.log(
            level,
            "job %s (%s %s) guild %s user %s: submit answered %s",
            job_id,
            job.kind,
            job.action,
            job.guild_id,
            job.requester_id,
            type(outcome).__name__,
        )
        record = await self._jobs.get(job_id)
        assert record is not None
        if record.task_id and record.state not in TERMINAL_STATES:
            proxy.tracker.follow(record)
        elif record.state in TERMINAL_STATES and self.on_finished is not None:
            await self.on_finished(record)  # refused at submit: still reported (audit log)
        return record

    async def _adopt_existing(self, job_id: int, task_id: str) -> None:
        """Old proxies answer a repeated upscale with the task that already did it (code 21)."""
        try:
            await self._jobs.mark_submitted(job_id, task_id, state="submitted")
        except TaskAlreadyTracked:
            await self._jobs.complete(
                job_id, state="cancelled", failure="mjbot:click.already_running"
            )
            await self._usage.refund(job_id)

    async def _fail(self, job_id: int, outcome: SubmitOutcome) -> None:
        reason = f"mjbot:{outcome.message_key}"
        if isinstance(outcome, BannedPrompt):
            reason = f"mjbot:{outcome.message_key}:{outcome.word or ''}"
        elif isinstance(outcome, Rejected) and outcome.message_key == "submit.rejected":
            reason = outcome.description or reason  # the proxy's own words, as it sent them
        await self._jobs.complete(job_id, state="failure", failure=reason)
        await self._usage.refund(job_id)

    async def job_finished(self, job: JobRecord) -> None:
        """Called by the tracker for every change; gives units back for failed jobs."""
        if job.state in ("failure", "cancelled"):
            await self._usage.refund(job.id)
        if job.state in TERMINAL_STATES and self.on_finished is not None:
            await self.on_finished(job)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.1f}"
