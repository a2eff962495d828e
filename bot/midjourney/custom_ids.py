"""Midjourney button customIds: parsed into typed actions, and which backend accepts which
(their rows in Midjourney's order: `bot.midjourney.button_rows`)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

Backend = Literal["plus", "trueai", "new-api"]


class ButtonKind(StrEnum):
    UPSCALE = "upscale"
    VARIATION = "variation"
    REROLL = "reroll"
    UPSCALE_HD = "upscale_hd"
    VARY_SUBTLE = "vary_subtle"
    VARY_STRONG = "vary_strong"
    VARY_REGION = "vary_region"
    ZOOM_OUT = "zoom_out"
    MAKE_SQUARE = "make_square"
    CUSTOM_ZOOM = "custom_zoom"
    PAN = "pan"
    ANIMATE = "animate"
    VIDEO_UPSCALE = "video_upscale"
    BOOKMARK = "bookmark"
    DESCRIBE_PICK = "describe_pick"
    DESCRIBE_ALL = "describe_all"
    DESCRIBE_RETRY = "describe_retry"
    SHORTEN_PICK = "shorten_pick"
    SHOW_DETAILS = "show_details"
    CANCEL_JOB = "cancel_job"
    UNKNOWN = "unknown"


# The proxy itself answers these with a dialog (code 21 / MODAL) wherever it accepts them.
_DIALOG_KINDS = frozenset(
    {
        ButtonKind.CUSTOM_ZOOM,
        ButtonKind.VARY_REGION,
        ButtonKind.DESCRIBE_PICK,
        ButtonKind.SHORTEN_PICK,
    }
)
# These need input only the user can give (a zoom factor, a region), so the bot asks first.
_USER_INPUT_KINDS = frozenset({ButtonKind.CUSTOM_ZOOM, ButtonKind.VARY_REGION})
# Zoom Out and Make Square paint new surroundings every time, like a variation: repeatable.
_IDEMPOTENT_KINDS = frozenset(
    {
        ButtonKind.UPSCALE,
        ButtonKind.UPSCALE_HD,
        ButtonKind.VIDEO_UPSCALE,
        ButtonKind.BOOKMARK,
    }
)
_WEIGHT_KEYS: dict[ButtonKind, str] = {
    ButtonKind.UPSCALE: "upscale",
    ButtonKind.VARIATION: "variation",
    ButtonKind.REROLL: "reroll",
    ButtonKind.UPSCALE_HD: "upscale_hd",
    ButtonKind.VARY_SUBTLE: "variation",
    ButtonKind.VARY_STRONG: "variation",
    ButtonKind.VARY_REGION: "vary_region",
    ButtonKind.ZOOM_OUT: "zoom",
    ButtonKind.MAKE_SQUARE: "zoom",
    ButtonKind.CUSTOM_ZOOM: "custom_zoom",
    ButtonKind.PAN: "pan",
    ButtonKind.ANIMATE: "animate",
    ButtonKind.VIDEO_UPSCALE: "video_upscale",
    ButtonKind.BOOKMARK: "bookmark",
    ButtonKind.DESCRIBE_PICK: "describe_pick",
    ButtonKind.DESCRIBE_ALL: "describe_all",
    ButtonKind.DESCRIBE_RETRY: "describe",
    ButtonKind.SHORTEN_PICK: "shorten_pick",
    ButtonKind.SHOW_DETAILS: "show_details",
    ButtonKind.CANCEL_JOB: "cancel",
    ButtonKind.UNKNOWN: "unknown",
}

_ALL: frozenset[Backend] = frozenset({"plus", "trueai", "new-api"})
# Reference §7.6 ("which proxies accept what"); an id missing here is accepted nowhere.
_ACCEPTED: dict[ButtonKind, frozenset[Backend]] = {
    ButtonKind.UPSCALE: _ALL,
    ButtonKind.VARIATION: _ALL,
    ButtonKind.REROLL: _ALL,
    ButtonKind.UPSCALE_HD: _ALL,
    ButtonKind.VARY_SUBTLE: _ALL,
    ButtonKind.VARY_STRONG: _ALL,
    ButtonKind.VARY_REGION: _ALL,
    ButtonKind.ZOOM_OUT: _ALL,
    ButtonKind.MAKE_SQUARE: _ALL,
    ButtonKind.CUSTOM_ZOOM: _ALL,
    ButtonKind.PAN: _ALL,
    ButtonKind.ANIMATE: frozenset({"plus", "trueai"}),
    ButtonKind.VIDEO_UPSCALE: frozenset({"plus", "trueai"}),
    ButtonKind.DESCRIBE_PICK: frozenset({"plus", "trueai"}),
    ButtonKind.DESCRIBE_RETRY: frozenset({"plus", "trueai"}),
    ButtonKind.DESCRIBE_ALL: frozenset({"trueai"}),
    ButtonKind.SHORTEN_PICK: frozenset({"plus"}),
    ButtonKind.SHOW_DETAILS: frozenset({"plus"}),
}

_KEYCAPS = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣")
_PAN_EMOJI = {"left": "⬅️", "right": "➡️", "up": "⬆️", "down": "⬇️"}
_OUTPAINT_ZOOM = {50: 2.0, 75: 1.5}


@dataclass(frozen=True, slots=True)
class ButtonAction:
    """What a Midjourney button does, derived from its customId alone."""

    raw: str
    kind: ButtonKind
    index: int | None = None
    job_hash: str | None = None
    label: str = ""
    emoji: str | None = None
    variant: str | None = None
    zoom: float | None = None
    direction: str | None = None
    motion: str | None = None
    extend: bool = False

    @property
    def opens_dialog(self) -> bool:
        """The proxy answers with a dialog (code 21 / MODAL) on every backend that accepts it."""
        return self.kind in _DIALOG_KINDS

    @property
    def needs_user_input(self) -> bool:
        """The dialog needs something only the user can give, so ask before submitting."""
        return self.kind in _USER_INPUT_KINDS

    @property
    def is_idempotent(self) -> bool:
        """Clicking it again on the same image gives the same result: submit it once."""
        return self.kind in _IDEMPOTENT_KINDS

    @property
    def weight_key(self) -> str:
        """A stable action name for quota weights and statistics."""
        return _WEIGHT_KEYS[self.kind]


def accepted_by(kind: ButtonKind, backend: Backend) -> bool:
    """Whether the backend's submit/action accepts this kind of customId."""
    return backend in _ACCEPTED.get(kind, frozenset())


_HASH = r"(?P<hash>[A-Za-z0-9_-]+)"
_SOLO = r"(?:::SOLO)?"


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE | re.ASCII)


def _grid(kind: ButtonKind, prefix: str) -> Callable[[re.Match[str], str], ButtonAction]:
    def build(m: re.Match[str], raw: str) -> ButtonAction:
        index = int(m["index"])
        return ButtonAction(raw, kind, index, m["hash"], label=f"{prefix}{index}")

    return build


def _reroll(m: re.Match[str], raw: str) -> ButtonAction:
    return ButtonAction(raw, ButtonKind.REROLL, None, m["hash"], emoji="🔄")


def _upscale_hd(m: re.Match[str], raw: str) -> ButtonAction:
    variant = m["variant"].lower()
    parts = variant.split("_")
    if "subtle" in parts:
        label = "Upscale (Subtle)"
    elif "creative" in parts:
        label = "Upscale (Creative)"
    elif "4x" in parts:
        label = "Upscale (4x)"
    elif "2x" in parts:
        label = "Upscale (2x)"
    else:
        label = "Upscale"
    return ButtonAction(
        raw, ButtonKind.UPSCALE_HD, int(m["index"]), m["hash"], label=label, variant=variant
    )


def _vary(m: re.Match[str], raw: str) -> ButtonAction:
    strong = m["strength"].lower() == "high"
    kind = ButtonKind.VARY_STRONG if strong else ButtonKind.VARY_SUBTLE
    label = "Vary (Strong)" if strong else "Vary (Subtle)"
    return ButtonAction(raw, kind, int(m["index"]), m["hash"], label=label, emoji="🪄")


def _inpaint(m: re.Match[str], raw: str) -> ButtonAction:
    return ButtonAction(
        raw, ButtonKind.VARY_REGION, int(m["index"]), m["hash"], label="Vary (Region)", emoji="🖌️"
    )


def _outpaint(m: re.Match[str], raw: str) -> ButtonAction:
    percent = int(m["percent"])
    index, job_hash = int(m["index"]), m["hash"]
    if percent == 100:
        return ButtonAction(
            raw, ButtonKind.MAKE_SQUARE, index, job_hash, label="Make Square", emoji="↔️"
        )
    zoom = _OUTPAINT_ZOOM.get(percent)
    label = f"Zoom Out {zoom:g}x" if zoom is not None else "Zoom Out"
    return ButtonAction(
        raw, ButtonKind.ZOOM_OUT, index, job_hash, label=label, emoji="🔍", zoom=zoom
    )


def _custom_zoom(m: re.Match[str], raw: str) -> ButtonAction:
    index = int(m["index"]) if m["index"] else None
    return ButtonAction(
        raw, ButtonKind.CUSTOM_ZOOM, index, m["hash"], label="Custom Zoom", emoji="🔍"
    )


def _pan(m: re.Match[str], raw: str) -> ButtonAction:
    direction = m["direction"].lower()
    return ButtonAction(
        raw,
        ButtonKind.PAN,
        int(m["index"]),
        m["hash"],
        emoji=_PAN_EMOJI[direction],
        direction=direction,
    )


def _animate(m: re.Match[str], raw: str) -> ButtonAction:
    motion = m["motion"].lower()
    extend = m["extend"] is not None
    label = f"{'Extend' if extend else 'Animate'} ({motion.capitalize()} motion)"
    return ButtonAction(
        raw,
        ButtonKind.ANIMATE,
        int(m["index"]),
        m["hash"],
        label=label,
        emoji="🎞️",
        motion=motion,
        extend=extend,
    )


def _bookmark(m: re.Match[str], raw: str) -> ButtonAction:
    return ButtonAction(raw, ButtonKind.BOOKMARK, None, m["hash"], emoji="❤️")


def _pick(kind: ButtonKind) -> Callable[[re.Match[str], str], ButtonAction]:
    def build(m: re.Match[str], raw: str) -> ButtonAction:
        index = int(m["index"])
        return ButtonAction(raw, kind, index, None, emoji=_KEYCAPS[index - 1])

    return build


def _describe_all(m: re.Match[str], raw: str) -> ButtonAction:
    return ButtonAction(raw, ButtonKind.DESCRIBE_ALL, label="Imagine all", emoji="🎉")


def _describe_retry(m: re.Match[str], raw: str) -> ButtonAction:
    return ButtonAction(raw, ButtonKind.DESCRIBE_RETRY, emoji="🔄")


def _show_details(m: re.Match[str], raw: str) -> ButtonAction:
    return ButtonAction(raw, ButtonKind.SHOW_DETAILS, label="Show Details")


def _cancel(m: re.Match[str], raw: str) -> ButtonAction:
    return ButtonAction(raw, ButtonKind.CANCEL_JOB, None, m["hash"], label="Cancel Job")


_Builder = Callable[[re.Match[str], str], ButtonAction]
_PATTERNS: tuple[tuple[re.Pattern[str], _Builder], ...] = (
    (
        _compile(rf"MJ::JOB::upsample::(?P<index>[1-4])::{_HASH}{_SOLO}"),
        _grid(ButtonKind.UPSCALE, "U"),
    ),
    (
        _compile(rf"MJ::JOB::variation::(?P<index>[1-4])::{_HASH}{_SOLO}"),
        _grid(ButtonKind.VARIATION, "V"),
    ),
    (_compile(rf"MJ::JOB::reroll::\d+::{_HASH}{_SOLO}"), _reroll),
    (
        _compile(
            rf"MJ::JOB::upsample_(?P<variant>[a-z0-9]+(?:_[a-z0-9]+)*)::(?P<index>\d+)::{_HASH}{_SOLO}"
        ),
        _upscale_hd,
    ),
    (
        _compile(rf"MJ::JOB::(?P<strength>low|high)_variation::(?P<index>\d+)::{_HASH}{_SOLO}"),
        _vary,
    ),
    (_compile(rf"MJ::Inpaint::(?P<index>\d+)::{_HASH}{_SOLO}"), _inpaint),
    (_compile(rf"MJ::Outpaint::(?P<percent>\d{{1,3}})::(?P<index>\d+)::{_HASH}{_SOLO}"), _outpaint),
    (_compile(rf"MJ::CustomZoom::(?:(?P<index>\d+)::)?{_HASH}"), _custom_zoom),
    (
        _compile(
            rf"MJ::JOB::pan_(?P<direction>left|right|up|down)::(?P<index>\d+)::{_HASH}{_SOLO}"
        ),
        _pan,
    ),
    (
        _compile(
            rf"MJ::JOB::animate_(?P<motion>high|low)(?P<extend>_extend)?::(?P<index>\d+)::{_HASH}{_SOLO}"
        ),
        _animate,
    ),
    (
        _compile(rf"MJ::JOB::video_virtual_upscale::(?P<index>[1-4])::{_HASH}{_SOLO}"),
        _grid(ButtonKind.VIDEO_UPSCALE, "U"),
    ),
    (_compile(rf"MJ::BOOKMARK::{_HASH}"), _bookmark),
    (_compile(r"MJ::Job::PicReader::(?P<index>[1-9])"), _pick(ButtonKind.DESCRIBE_PICK)),
    (_compile(r"MJ::Job::PicReader::all"), _describe_all),
    # trueai matches the retry id by substring, so tolerate a suffix.
    (_compile(r"MJ::Picread::Retry(?:::[^\s]*)?"), _describe_retry),
    (_compile(r"MJ::Job::PromptAnalyzer::(?P<index>[1-9])"), _pick(ButtonKind.SHORTEN_PICK)),
    # The Show Details id was never captured; Midjourney names its follow-up PromptAnalyzerExtended.
    (_compile(r"MJ::Job::PromptAnalyzerExtended(?:::[^\s]*)?"), _show_details),
    (_compile(r"MJ::[^\s]*show_?details[^\s]*"), _show_details),
    (_compile(rf"MJ::CancelJob::ByJobid::{_HASH}"), _cancel),
)


def parse_custom_id(custom_id: str) -> ButtonAction:
    """The action of a Midjourney customId; unknown or mangled ids give kind UNKNOWN."""
    if not isinstance(custom_id, str):
        return ButtonAction(str(custom_id), ButtonKind.UNKNOWN)
    if len(custom_id) <= 200:
        for pattern, build in _PATTERNS:
            match = pattern.fullmatch(custom_id)
            if match is not None:
                return build(match, custom_id)
    return ButtonAction(custom_id, ButtonKind.UNKNOWN)
