"""The Midjourney button catalogue per job kind, and what job each button starts."""

from __future__ import annotations

import re
from typing import Any, Literal

from .tasks import NUMBERS, SimTask

# customId families new-api relays; everything else is refused before reaching upstream.
NEW_API_FAMILIES = re.compile(
    r"^MJ::(JOB::(upsample|variation|low_variation|high_variation|pan_|reroll)|"
    r"Outpaint::|CustomZoom::|Inpaint::)"
)
TRUEAI_FAMILIES = re.compile(
    r"^MJ::(JOB::(upsample|variation|low_variation|high_variation|pan_|reroll|animate_|"
    r"video_virtual_upscale)|Outpaint::|CustomZoom::|Inpaint::|Job::PicReader::|Picread::Retry)"
)


def button_index(custom_id: str) -> int:
    """The number right after the action part (`upsample::2`, `PicReader::3`)."""
    for part in custom_id.split("::")[2:]:
        if part.isdigit():
            return int(part)
    return 1


def child_kind(
    custom_id: str, parent: SimTask
) -> tuple[Literal["grid", "upscale", "video"], str, str | None]:
    """(kind, action, dialog) of the job a button starts."""
    if custom_id.startswith("MJ::JOB::animate_"):
        return "video", "VIDEO", None
    if custom_id.startswith("MJ::JOB::video_virtual_upscale::"):
        return "video", "UPSCALE", None
    if custom_id.startswith("MJ::JOB::reroll::") and parent.kind == "video":
        return "video", "VIDEO", None
    if custom_id.startswith("MJ::JOB::upsample"):
        return "upscale", "UPSCALE", None
    if custom_id.startswith("MJ::CustomZoom::"):
        return "grid", "ZOOM", "zoom"
    if custom_id.startswith("MJ::Inpaint::"):
        return "grid", "INPAINT", "inpaint"
    if custom_id.startswith(("MJ::Job::PicReader::", "MJ::Job::PromptAnalyzer::")):
        return "grid", "IMAGINE", "pick"
    if custom_id.startswith("MJ::Outpaint::"):
        return "grid", "ZOOM", None
    if custom_id.startswith("MJ::JOB::pan_"):
        return "grid", "PAN", None
    if custom_id.startswith("MJ::JOB::reroll::"):
        return "grid", "REROLL", None
    return "grid", "VARIATION", None


def _button(custom_id: str, label: str = "", emoji: str = "") -> dict[str, Any]:
    return {"customId": custom_id, "emoji": emoji, "label": label, "type": 2, "style": 2}


def buttons(task: SimTask) -> list[dict[str, Any]]:
    """Midjourney's buttons for a finished job of this kind, in its rows and order."""
    h = task.job_hash
    if task.kind == "grid":
        return [
            *(_button(f"MJ::JOB::upsample::{i}::{h}", f"U{i}") for i in range(1, 5)),
            _button(f"MJ::JOB::reroll::0::{h}::SOLO", emoji="🔄"),
            *(_button(f"MJ::JOB::variation::{i}::{h}", f"V{i}") for i in range(1, 5)),
        ]
    if task.kind == "upscale":
        return [
            _button(
                f"MJ::JOB::upsample_v6r1_2x_subtle::1::{h}::SOLO", "Upscale (Subtle)", "upscale_1"
            ),
            _button(
                f"MJ::JOB::upsample_v6r1_2x_creative::1::{h}::SOLO",
                "Upscale (Creative)",
                "upscale_1",
            ),
            _button(f"MJ::JOB::low_variation::1::{h}::SOLO", "Vary (Subtle)", "🪄"),
            _button(f"MJ::JOB::high_variation::1::{h}::SOLO", "Vary (Strong)", "🪄"),
            _button(f"MJ::Inpaint::1::{h}::SOLO", "Vary (Region)", "🖌️"),
            _button(f"MJ::Outpaint::50::1::{h}::SOLO", "Zoom Out 2x", "🔍"),
            _button(f"MJ::Outpaint::75::1::{h}::SOLO", "Zoom Out 1.5x", "🔍"),
            _button(f"MJ::CustomZoom::{h}", "Custom Zoom", "🔍"),
            _button(f"MJ::JOB::pan_left::1::{h}::SOLO", emoji="⬅️"),
            _button(f"MJ::JOB::pan_right::1::{h}::SOLO", emoji="➡️"),
            _button(f"MJ::JOB::pan_up::1::{h}::SOLO", emoji="⬆️"),
            _button(f"MJ::JOB::pan_down::1::{h}::SOLO", emoji="⬇️"),
            _button(f"MJ::JOB::animate_high::1::{h}::SOLO", "Animate (High motion)", "🎞️"),
            _button(f"MJ::JOB::animate_low::1::{h}::SOLO", "Animate (Low motion)", "🎞️"),
            _button(f"MJ::BOOKMARK::{h}", emoji="❤️"),
        ]
    if task.kind == "video":
        # trueai's SetVideoUpscaleButtons / SetVideoExtendButtons (reference 7.3)
        upscales = (
            []
            if task.action == "UPSCALE"
            else [
                _button(f"MJ::JOB::video_virtual_upscale::{i}::{h}", f"U{i}") for i in range(1, 5)
            ]
        )
        return [
            *upscales,
            _button(f"MJ::JOB::animate_high_extend::1::{h}", "Extend (High motion)", "🎞️"),
            _button(f"MJ::JOB::animate_low_extend::1::{h}", "Extend (Low motion)", "🎞️"),
            _button(f"MJ::JOB::reroll::0::{h}::SOLO", emoji="🔄"),
        ]
    if task.kind == "describe":
        return [
            *(_button(f"MJ::Job::PicReader::{i}", emoji=NUMBERS[i - 1]) for i in range(1, 5)),
            _button("MJ::Picread::Retry", emoji="🔄"),
            _button("MJ::Job::PicReader::all", "Imagine all", "🎉"),
        ]
    return [_button(f"MJ::Job::PromptAnalyzer::{i}", emoji=NUMBERS[i - 1]) for i in range(1, 6)]
