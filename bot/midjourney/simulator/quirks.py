"""Named ways real proxies answer that the simulator can imitate (`mjbot mock-api --quirks ...`).

Each quirk is switched on by name; the simulator asks `quirk in self.quirks` where it answers.
A quirk is added here with a one-line description (shown by `mjbot mock-api --help`) and
implemented where the simulator builds the answer it changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from .refusals import REFUSAL_QUIRKS

CHINESE_REASONS = "chinese-reasons"

# name -> what a proxy that has it does (kept short: it is printed in --help).
QUIRKS: dict[str, str] = {
    "empty-image-url": 'finished images have imageUrl "" and the picture in imageUrls',
    "split-images": 'finished grids have imageUrl "" and four separate images in imageUrls',
    "no-image": "finished images have neither imageUrl nor imageUrls",
    "video-list-only": 'video results have imageUrl and videoUrl "", only videoUrls',
    "localhost-media": "media addresses start http://localhost:3000 (new-api's default address)",
    CHINESE_REASONS: (
        "refuse or fail in the proxies' own (Chinese) words when a prompt contains "
        "quirk:<case> (see README)"
    ),
}


QUIRKS.update(REFUSAL_QUIRKS)  # refusals and 429s (simulator/refusals.py)


@dataclass(frozen=True)
class ReasonCase:
    """A refusal (`submit`: that code and description) or a task failure (`task`: failReason)."""

    at: Literal["submit", "task"]
    reason: str
    code: int = 1


# chinese-reasons: the words real proxies answer with (novicezk/plus, trueai, new-api).
REASON_CASES: dict[str, ReasonCase] = {
    "no-account": ReasonCase("submit", "无可用的账号实例", 3),
    "bad-params": ReasonCase("submit", "参数错误", 4),
    "busy": ReasonCase("submit", "并发数已达上限", 4),
    "quota": ReasonCase("submit", "quota_not_enough", 4),
    "system": ReasonCase("submit", "提交失败，系统异常", 9),
    "odd-refusal": ReasonCase("submit", "渠道 7 状态异常，请联系管理员", 4),
    "timeout": ReasonCase("task", "任务超时"),
    "sensitive": ReasonCase("task", "可能包含敏感词"),
    "saturated": ReasonCase("task", "当前分组上游负载已饱和，请稍后再试"),
    "cancelled": ReasonCase("task", "取消任务"),
    "odd-failure": ReasonCase("task", "上游返回异常：渠道 7 状态码 520"),
}


def reason_case(quirks: frozenset[str], prompt: str) -> ReasonCase | None:
    """The case a prompt asks for with `quirk:<case>`, when chinese-reasons is on."""
    if CHINESE_REASONS not in quirks:
        return None
    for name, case in REASON_CASES.items():
        if f"quirk:{name}" in prompt:
            return case
    return None


class UnknownQuirkError(ValueError):
    """A quirk name that the simulator does not know."""


def parse_quirks(names: Iterable[str] | str) -> frozenset[str]:
    """Quirk names from a comma-separated string or an iterable; unknown names are refused."""
    if isinstance(names, str):
        names = names.split(",")
    wanted = frozenset(name.strip() for name in names if name.strip())
    unknown = sorted(wanted - QUIRKS.keys())
    if unknown:
        known = ", ".join(sorted(QUIRKS)) or "none"
        raise UnknownQuirkError(f"unknown quirk(s) {', '.join(unknown)}; known: {known}")
    return wanted


def describe_quirks() -> str:
    """One line per quirk, for --help."""
    return "; ".join(f"{name}: {text}" for name, text in sorted(QUIRKS.items())) or "none yet"
