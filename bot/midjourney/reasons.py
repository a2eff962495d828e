"""The proxies' own words for a refusal or a failure, mapped to our catalogue keys. Pure.

plus/novicezk, trueai and new-api (and resellers in front of them) explain a refused submit
(`description`) or a failed task (`failReason`) in their own language, mostly Chinese. Members
see our sentence (`reasons.<key>` in bot/locales/<lang>/reasons.toml) instead; a reason that is
not known here is quoted after our own words (see `bot.render.failure_text`).

Matching is by case-insensitive substring, most specific first. Sources: the reference notes on
the proxies' return codes and failReasons, and the texts the three families answer with.
"""

from __future__ import annotations

import unicodedata

# (fragments, catalogue key under "reasons."); the first entry with a matching fragment wins.
_CATALOGUE: tuple[tuple[tuple[str, ...], str], ...] = (
    # The key: trueai's plain text, new-api's OpenAI-style errors, plus's 401.
    (
        (
            "invalid token",
            "无效的令牌",
            "令牌无效",
            "未登录",
            "authorization header missing",
            "unauthorized",
            "api key was refused",
            "invalid api key",
        ),
        "key_refused",
    ),
    # Money and limits at the proxy or reseller.
    (
        (
            "insufficient_quota",
            "quota_not_enough",
            "余额不足",
            "额度不足",
            "用户额度不足",
            "balance",
        ),
        "quota",
    ),
    (("用户今日绘图次数已达上限", "今日绘图次数"), "daily_limit"),
    (("负载已饱和", "upstream saturated", "saturated"), "upstream_busy"),
    (
        ("rate_limit_exceeded", "rate limit", "rate limited", "请求过于频繁", "too many requests"),
        "rate_limited",
    ),
    (("并发数已达上限", "concurrency"), "busy"),
    (("队列已满", "queue full", "queue is full"), "queue_full"),
    # No Discord account behind the proxy.
    (
        ("无可用的账号实例", "账号不可用", "no available account", "no available instance"),
        "no_account",
    ),
    (("账号已被临时封锁", "temporarily blocked", "temporarily locked"), "user_locked"),
    # The prompt or the image was refused by the proxy's or Midjourney's moderation.
    (
        ("可能包含敏感词", "敏感词", "banned prompt", "banned word", "prompt contains"),
        "banned_prompt",
    ),
    (("image denied", "output filters", "图片审核", "图片违规"), "image_denied"),
    # The parent task of a button.
    (
        (
            "关联任务不存在或已失效",
            "目标任务不存在",
            "任务不存在",
            "未找到",
            "task_not_found",
            "task_no_found",
            "task not found",
        ),
        "task_gone",
    ),
    (("关联任务状态错误", "task_status_not_success", "任务状态错误"), "task_not_ready"),
    (("任务已存在",), "task_exists"),
    (("窗口等待", "waiting for window confirm"), "waiting_dialog"),
    # The request itself.
    (("prompt不能为空", "prompt is empty", "prompt cannot be empty"), "empty_prompt"),
    (("禁止上传",), "uploads_disabled"),
    (
        (
            "未知的 action",
            "未知的action",
            "unknown_action",
            "unknown action",
            "customid 无效",
            "不支持",
            "not supported",
            "unsupported",
        ),
        "unknown_action",
    ),
    (
        (
            "参数错误",
            "格式错误",
            "不能为空",
            "需要 --zoom",
            "invalid parameter",
            "invalid request",
            "validation error",
        ),
        "bad_parameters",
    ),
    # How a task ended.
    (("取消任务", "task cancelled", "cancelled", "canceled"), "cancelled"),
    (("超时", "timeout", "timed out"), "timeout"),
    (("提交失败，系统异常", "系统异常", "system error", "internal error"), "system_error"),
)

# Reasons that stand for success or nothing at all: never shown as a failure.
_EMPTY = frozenset({"", "null", "none", "success", "submit success", "提交成功", "成功"})


def _normal(text: str) -> str:
    """Compatibility-folded (full-width punctuation), case-folded, spaces squeezed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


# Pre-folded once: fragments are compared the way the text is.
_FOLDED: tuple[tuple[tuple[str, ...], str], ...] = tuple(
    (tuple(_normal(f) for f in fragments), key) for fragments, key in _CATALOGUE
)
KEYS: frozenset[str] = frozenset(key for _, key in _CATALOGUE)


def reason_key(raw: str | None) -> str | None:
    """The catalogue key (without "reasons.") of a proxy's reason, or None when unknown."""
    text = _normal(raw or "")
    if text in _EMPTY:
        return None
    for fragments, key in _FOLDED:
        if any(fragment in text for fragment in fragments):
            return key
    return None


def is_empty(raw: str | None) -> bool:
    """Whether the proxy gave no reason worth showing (nothing, "null", "success")."""
    return _normal(raw or "") in _EMPTY
