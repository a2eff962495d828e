"""The proxies' own reasons: mapped to our catalogue, unknown ones quoted after our words."""

from __future__ import annotations

import pytest

from bot.i18n import LOCALES, catalogue
from bot.midjourney.reasons import KEYS, is_empty, reason_key
from bot.render import proxy_reason_text

# Reasons the three families send (reference notes §4, §9, their issue trackers).
KNOWN = {
    "无可用的账号实例": "no_account",
    "账号不可用: 1118138338562560102": "no_account",
    "任务已存在": "task_exists",
    "窗口等待": "waiting_dialog",
    "Waiting for window confirm": "waiting_dialog",
    "参数错误": "bad_parameters",
    "base64List参数错误": "bad_parameters",
    "图片参数错误，2~5张图片": "bad_parameters",
    "dimensions参数错误": "bad_parameters",
    "base64格式错误": "bad_parameters",
    "prompt不能为空": "empty_prompt",
    "Invalid token.": "key_refused",
    "无效的令牌 (invalid token)": "key_refused",
    "未登录": "key_refused",
    "banned prompt": "banned_prompt",
    "Banned prompt detected": "banned_prompt",
    "可能包含敏感词": "banned_prompt",
    "upstream saturated": "upstream_busy",
    "当前分组上游负载已饱和，请稍后再试": "upstream_busy",
    "insufficient_quota": "quota",
    "quota_not_enough ": "quota",
    "用户今日绘图次数已达上限": "daily_limit",
    "并发数已达上限": "busy",
    "队列已满，请稍后尝试": "queue_full",
    "提交失败，队列已满，请稍后重试": "queue_full",
    "提交失败，系统异常": "system_error",
    "关联任务不存在或已失效": "task_gone",
    "目标任务不存在": "task_gone",
    "task_not_found ": "task_gone",
    "task_no_found": "task_gone",
    "关联任务状态错误": "task_not_ready",
    "task_status_not_success": "task_not_ready",
    "禁止上传": "uploads_disabled",
    "未知的 Action 类型": "unknown_action",
    "Invalid request, unknown_action:MJ::BOOKMARK::x": "unknown_action",
    "账号已被临时封锁，请勿使用违规词作图": "user_locked",
    "任务超时": "timeout",
    "执行超时 5 分钟": "timeout",
    "上游任务超时（超过1小时）": "timeout",
    "取消任务": "cancelled",
    "Image denied": "image_denied",
    "rate_limit_exceeded": "rate_limited",
}


@pytest.mark.parametrize(("raw", "key"), sorted(KNOWN.items()))
def test_known_reasons_map_to_our_keys(raw: str, key: str) -> None:
    assert reason_key(raw) == key


def test_every_key_has_a_sentence_in_every_language() -> None:
    for lang in LOCALES:
        missing = {k for k in KEYS | {"unknown"} if f"reasons.{k}" not in catalogue(lang)}
        assert not missing, (lang, missing)


@pytest.mark.parametrize("raw", sorted(KNOWN))
def test_an_english_member_never_reads_chinese(raw: str) -> None:
    text = proxy_reason_text(raw, "en")
    assert not any("\u4e00" <= c <= "\u9fff" for c in text), text


def test_unknown_reasons_are_quoted_after_our_words() -> None:
    assert reason_key("某个新的错误") is None
    text = proxy_reason_text("某个新的错误", "en")
    assert text == "the image service gave this reason: “某个新的错误”"
    zh = proxy_reason_text("Something odd", "zh-CN")
    assert zh == "图像服务给出的原因：“Something odd”"


def test_empty_reasons_say_no_reason_was_given() -> None:
    assert is_empty(None) and is_empty(" null ") and is_empty("Submit success")
    assert proxy_reason_text("", "en") == "the image service gave no reason."


def test_every_reason_the_simulator_gives_is_catalogued() -> None:
    """The simulator speaks like the real proxies: each of its Chinese refusals and failures has
    our sentence (except the quirk's deliberately unknown ones and the queue's position text)."""
    import ast
    import re
    from pathlib import Path

    import bot.midjourney.simulator as simulator

    cjk = re.compile(r"[\u4e00-\u9fff]")
    unknown_on_purpose = {"渠道 7 状态异常，请联系管理员", "上游返回异常：渠道 7 状态码 520"}
    not_reasons = {"排队中，前面还有", "个任务"}  # code 22's description around the position
    missing = set()
    for path in Path(simulator.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if not isinstance(text, str) or not cjk.search(text):
                continue
            if text in unknown_on_purpose | not_reasons or is_empty(text):
                continue
            if reason_key(text) is None:
                missing.add(text)
    assert not missing
