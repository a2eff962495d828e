"""Pydantic models of what proxy backends send, tolerant of every family's quirks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

TERMINAL_STATUSES = frozenset({"SUCCESS", "FAILURE", "CANCEL"})
_PERCENT = re.compile(r"^\s*(\d{1,3})(?:\.\d+)?\s*%\s*$")


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True)


def _text(value: Any) -> str:
    """Any scalar as text; None and containers as ''."""
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)


def _optional_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)


def _int_or(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


class TaskButton(_Lenient):
    """One button of a finished task, as the proxy copied it from Midjourney's message."""

    custom_id: str = Field(default="", alias="customId")
    emoji: str = ""
    label: str = ""
    style: int = 2
    type: int = 2

    @field_validator("custom_id", "emoji", "label", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> str:
        if isinstance(value, dict):  # a Discord emoji object instead of its name
            return _text(value.get("name"))
        return _text(value)

    @field_validator("style", "type", mode="before")
    @classmethod
    def _ints(cls, value: Any) -> int:
        return _int_or(value, 2)


@dataclass(frozen=True, slots=True)
class TaskMedia:
    """The one file a finished task is shown by, and how many separate ones it listed."""

    kind: Literal["image", "video"]
    url: str | None
    count: int


class Task(_Lenient):
    """A proxy task as returned by fetch, list-by-condition or a notifyHook body."""

    id: str
    action: str | None = None
    status: str = ""
    progress_text: str = Field(default="", alias="progress")
    prompt: str | None = None
    prompt_en: str | None = Field(default=None, alias="promptEn")
    description: str | None = None
    state: str | None = None
    fail_reason: str | None = Field(default=None, alias="failReason")
    image_url: str | None = Field(default=None, alias="imageUrl")
    image_urls: list[str] = Field(default=[], alias="imageUrls")
    video_url: str | None = Field(default=None, alias="videoUrl")
    video_urls: list[str] = Field(default=[], alias="videoUrls")
    submit_time: int | None = Field(default=None, alias="submitTime")
    start_time: int | None = Field(default=None, alias="startTime")
    finish_time: int | None = Field(default=None, alias="finishTime")
    buttons: list[TaskButton] = []
    properties: dict[str, Any] = {}

    @field_validator("id", "status", "progress_text", mode="before")
    @classmethod
    def _texts(cls, value: Any) -> str:
        return _text(value).strip()

    @field_validator("status", mode="after")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator(
        "action", "prompt", "prompt_en", "description", "state", "fail_reason", mode="before"
    )
    @classmethod
    def _optional_texts(cls, value: Any) -> str | None:
        return _optional_text(value)

    @field_validator("image_url", "video_url", mode="before")
    @classmethod
    def _url(cls, value: Any) -> str | None:
        text = (_optional_text(value) or "").strip()
        return text or None

    @field_validator("image_urls", "video_urls", mode="before")
    @classmethod
    def _urls(cls, value: Any) -> list[str]:
        if isinstance(value, str):  # a single address where a list belongs
            value = [value]
        if not isinstance(value, list):
            return []
        urls: list[str] = []
        for item in value:  # trueai sends [{url, thumbnail}], others plain strings
            url = item.get("url") if isinstance(item, dict) else item
            if isinstance(url, str) and url.strip() and url.strip() not in urls:
                urls.append(url.strip())
        return urls

    @field_validator("submit_time", "start_time", "finish_time", mode="before")
    @classmethod
    def _millis(cls, value: Any) -> int | None:
        millis = _int_or(value, 0)
        return millis if millis > 0 else None  # new-api uses 0 for "not yet"

    @field_validator("buttons", mode="before")
    @classmethod
    def _buttons(cls, value: Any) -> list[Any]:
        if not isinstance(value, list):
            return []
        return [b for b in value if isinstance(b, dict) and b.get("customId")]

    @field_validator("properties", mode="before")
    @classmethod
    def _properties(cls, value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}

    @property
    def progress_pct(self) -> int | None:
        """The progress as a percentage, or None when the proxy sent free text or nothing."""
        match = _PERCENT.match(self.progress_text)
        return min(int(match.group(1)), 100) if match else None

    @property
    def final_prompt(self) -> str | None:
        """`properties.finalPrompt`: the prompt Midjourney ran, or describe/shorten's result."""
        value = self.properties.get("finalPrompt")
        return value if isinstance(value, str) and value.strip() else None

    @property
    def media(self) -> TaskMedia:
        """A video when the task has one; else `imageUrl`, else the `imageUrls` (a single entry
        is the grid itself; several are separate images, of which the first is shown)."""
        if self.video_url or self.video_urls:
            url = self.video_url or self.video_urls[0]
            return TaskMedia("video", url, max(1, len(self.video_urls)))
        if self.image_url:
            return TaskMedia("image", self.image_url, 1)
        if self.image_urls:
            return TaskMedia("image", self.image_urls[0], len(self.image_urls))
        return TaskMedia("image", None, 0)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class SubmitResponse(_Lenient):
    """The body of a submit answer: `{code, description, result, properties}`."""

    code: int | None = None
    description: str = ""
    result: list[str] = []
    properties: dict[str, Any] = {}

    @field_validator("code", mode="before")
    @classmethod
    def _code(cls, value: Any) -> int | None:
        if isinstance(value, bool):
            return None
        try:
            return int(value)
        except (TypeError, ValueError):
            return None

    @field_validator("description", mode="before")
    @classmethod
    def _description(cls, value: Any) -> str:
        return _text(value).strip()

    @field_validator("result", mode="before")
    @classmethod
    def _ids(cls, value: Any) -> list[str]:
        """Task ids as strings: a number, a string, comma-joined strings (trueai) or a list."""
        items = value if isinstance(value, list) else [value]
        ids: list[str] = []
        for item in items:
            if item is None or isinstance(item, bool | dict | list):
                continue
            ids.extend(part.strip() for part in str(item).split(",") if part.strip())
        return ids

    @field_validator("properties", mode="before")
    @classmethod
    def _properties(cls, value: Any) -> dict[str, Any]:
        return value if isinstance(value, dict) else {}
