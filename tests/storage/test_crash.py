"""Crash safety: a process killed (SIGKILL) around the submit leaves a truthful database."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from storage import Database, JobRepository

ROOT = Path(__file__).resolve().parents[2]

# The child records a job, optionally stores the proxy's task id, says so on stdout, then waits
# where the bot would be talking to the proxy, until it is killed.
CHILD = """
import asyncio, sys
from storage import Database, JobRepository

async def main(path: str, stage: str) -> None:
    db = await Database.open(path)
    jobs = JobRepository(db)
    job = await jobs.create_submitting(guild_id=1, channel_id=2, requester_id=3,
                                       kind="imagine", action="imagine", prompt="a red fox")
    if stage == "submitted":
        await jobs.mark_submitted(job.id, "task-42", "submitted")
    print(job.id, flush=True)
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def _kill_after_stage(path: str, stage: str) -> int:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        CHILD,
        str(path),
        stage,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    proc.send_signal(signal.SIGKILL)
    _, stderr = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, stderr.decode()
    return int(line)


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
async def test_kill_before_mark_submitted_leaves_the_job_submitting(database_url: str) -> None:
    job_id = await _kill_after_stage(database_url, "created")
    async with await Database.open(database_url) as db:
        jobs = JobRepository(db)
        job = await jobs.get(job_id)
        assert job is not None
        assert (job.state, job.task_id) == ("submitting", None)
        assert [j.id for j in await jobs.unfinished()] == [job_id]


@pytest.mark.skipif(os.name != "posix", reason="SIGKILL is POSIX")
async def test_kill_after_mark_submitted_keeps_the_task_id(database_url: str) -> None:
    job_id = await _kill_after_stage(database_url, "submitted")
    async with await Database.open(database_url) as db:
        job = await JobRepository(db).get_by_task_id("task-42")
        assert job is not None
        assert (job.id, job.state) == (job_id, "submitted")
