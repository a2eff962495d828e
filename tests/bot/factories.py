"""Test factories for plain records."""

from __future__ import annotations

from dataclasses import replace

from storage.records import JobRecord


def job(**fields: object) -> JobRecord:
    base = JobRecord(
        id=7,
        task_id="1748339029401828",
        parent_job_id=None,
        guild_id=1,
        channel_id=2,
        requester_id=3,
        kind="imagine",
        action="imagine",
        custom_id=None,
        button_index=None,
        prompt="a red fox",
        final_prompt=None,
        state="submitted",
        progress=None,
        status_text=None,
        queue_position=None,
        preview_url=None,
        image_url=None,
        attachment_url=None,
        buttons=(),
        failure=None,
        units=1.0,
        charged_at=None,
        locale="en",
        created_at=0.0,
        submitted_at=None,
        started_at=None,
        finished_at=None,
        deadline_at=None,
        updated_at=0.0,
    )
    return replace(base, **fields)  # type: ignore[arg-type]
