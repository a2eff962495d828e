"""Simulated jobs and the clock that drives them: status, queue slots, describe/shorten texts."""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

NUMBERS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣")


class ManualClock:
    """A clock that only moves when told: `advance(seconds)`."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class SimTask:
    """A simulated job; its status is computed from the clock whenever it is read."""

    id: str
    action: str
    kind: Literal["grid", "upscale", "describe", "shorten", "video"]
    prompt: str
    description: str
    submitted_at: float
    starts_at: float | None  # None while waiting in MODAL
    job_hash: str = field(default_factory=lambda: str(uuid.uuid4()))
    parent_id: str | None = None
    panel: int = 0
    aspect: tuple[int, int] = (1, 1)
    dialog: str | None = None  # zoom | inpaint | remix | pick, for MODAL tasks
    final_prompt: str = ""
    forced_status: str | None = None
    forced_at: float | None = None
    fail_reason: str | None = None
    state: str | None = None
    notify_hook: str | None = None
    bot_type: str = "MID_JOURNEY"
    last_notified: tuple[str, int] | None = None


class TaskQueue:
    """The tasks on a clock: each one's status from elapsed time, queue slots, forced outcomes."""

    def __init__(
        self,
        clock: Callable[[], float],
        seconds_per_job: float,
        max_concurrent: int,
        queue_limit: int,
    ) -> None:
        self.seconds_per_job = seconds_per_job
        self.max_concurrent = max_concurrent
        self.queue_limit = queue_limit
        self.tasks: dict[str, SimTask] = {}
        self._clock = clock
        self._epoch_offset = time.time() - clock()
        self._last_id = 0

    def set_clock(self, clock: Callable[[], float]) -> None:
        """Use another clock from now on (wall-clock timestamps stay continuous)."""
        wall = self._clock() + self._epoch_offset
        self._clock = clock
        self._epoch_offset = wall - clock()

    def now(self) -> float:
        return self._clock()

    def finish(self, task_id: str) -> None:
        """Force a task to SUCCESS now."""
        self._force(task_id, "SUCCESS", None)

    def fail(self, task_id: str, reason: str = "simulated failure") -> None:
        """Force a task to FAILURE now."""
        self._force(task_id, "FAILURE", reason)

    def status_of(self, task_id: str) -> str:
        return self._status(self.tasks[task_id])[0]

    def _force(self, task_id: str, status: str, reason: str | None) -> None:
        task = self.tasks[task_id]
        task.forced_status, task.forced_at, task.fail_reason = status, self._clock(), reason
        if task.starts_at is None:
            task.starts_at = self._clock()

    def _status(self, task: SimTask) -> tuple[str, int]:
        if task.forced_status is not None:
            return task.forced_status, 100 if task.forced_status == "SUCCESS" else 0
        if task.starts_at is None:
            return "MODAL", 0
        now, duration = self._clock(), self.seconds_per_job
        if now < task.starts_at:
            return "NOT_START", 0
        elapsed = now - task.starts_at
        if duration <= 0 or elapsed >= duration:
            return "SUCCESS", 100
        if elapsed < duration * 0.1:
            return "SUBMITTED", 0
        return "IN_PROGRESS", min(int(elapsed / duration * 100), 99)

    def _end(self, task: SimTask) -> float | None:
        if task.forced_status is not None or task.starts_at is None:
            return None
        return task.starts_at + self.seconds_per_job

    def _schedule(self) -> tuple[float, int] | None:
        """(start time, queue position) for a new job, or None when the queue is full."""
        now = self._clock()
        ends = sorted(e for t in self.tasks.values() if (e := self._end(t)) is not None and e > now)
        waiting = len(ends) - self.max_concurrent
        if waiting < 0:
            return now, 0
        if waiting >= self.queue_limit:
            return None
        return ends[waiting], waiting + 1

    def _new_id(self) -> str:
        self._last_id = max(self._last_id + 1, int(time.time() * 1000) * 1000)
        return str(self._last_id)

    def _ms(self, at: float | None) -> int | None:
        return None if at is None else int((at + self._epoch_offset) * 1000)


def aspect_of(prompt: str) -> tuple[int, int]:
    match = re.search(r"--(?:ar|aspect)\s+(\d+):(\d+)", prompt)
    if match is None:
        return 1, 1
    w, h = int(match.group(1)), int(match.group(2))
    if not (w and h) or max(w / h, h / w) > 4:
        return 1, 1
    return w, h


def describe_text(seed: str) -> str:
    subjects = (
        "a lighthouse on a cliff",
        "a fox in the snow",
        "a neon city street",
        "a bowl of fruit",
    )
    start = int(hashlib.sha256(seed.encode()).hexdigest()[:4], 16)
    lines = []
    for n in range(4):
        subject = subjects[(start + n) % len(subjects)]
        lines.append(f"{NUMBERS[n]} {subject}, soft light, detailed illustration --ar 1:1")
    return "\n\n".join(lines)


def shorten_text(prompt: str) -> str:
    words = [w for w in re.findall(r"[\w'-]+", prompt.split("--")[0]) if len(w) > 2][:12] or [
        "image"
    ]
    tokens = ", ".join(f"**{w}**" for w in words)  # Midjourney bolds the important tokens
    shortened = [" ".join(words[: max(1, len(words) - n)]) for n in range(5)]
    lines = "\n\n".join(f"{NUMBERS[n]} {text}" for n, text in enumerate(shortened))
    return f"## Important tokens\n{tokens}\n\n## Shortened prompts\n\n{lines}"


def pick_line(text: str, n: int) -> str:
    """Line `n` of a describe/shorten result, without its number emoji."""
    marker = NUMBERS[n - 1] if 1 <= n <= len(NUMBERS) else ""
    for line in text.splitlines():
        if marker and line.startswith(marker):
            return line.removeprefix(marker).strip()
    return text.strip()
