"""Refusals and 429s told apart by what the service said (real bodies from the three families)."""

from __future__ import annotations

import json

import pytest

from bot.midjourney.answers import Refusal, refusal_of
from bot.midjourney.errors import AuthenticationError, RateLimitError, status_error
from bot.midjourney.outcomes import Busy, Rejected, Unavailable, classify
from bot.midjourney.simulator.refusals import QUOTA_BODY, RATE_LIMIT_BODY, SATURATED_BODY

NEW_API_USER_QUOTA = {
    "error": {
        "message": "用户额度不足, 剩余额度: ＄0.000000",
        "type": "new_api_error",
        "code": "insufficient_user_quota",
    }
}


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (429, json.dumps(SATURATED_BODY, ensure_ascii=False), "saturated"),
        (429, json.dumps(QUOTA_BODY), "quota"),
        (403, json.dumps(NEW_API_USER_QUOTA, ensure_ascii=False), "quota"),
        (402, "Payment Required", "quota"),
        (429, json.dumps(RATE_LIMIT_BODY), "rate_limited"),
        (429, "", "rate_limited"),
        (403, "Invalid token.", "key_refused"),
        (401, "Authorization header missing.", "key_refused"),
    ],
)
def test_refusals_are_told_apart_by_their_words(status: int, body: str, kind: str) -> None:
    refusal = refusal_of(status, body)
    assert refusal is not None and refusal.kind == kind


def test_escaped_chinese_in_a_json_body_is_read() -> None:
    escaped = json.dumps({"description": "当前分组上游负载已饱和", "code": 30})  # \\u escapes
    refusal = refusal_of(429, escaped)
    assert refusal is not None and refusal.kind == "saturated"
    spent = json.dumps({"message": "余额不足"})
    assert refusal_of(429, spent) == Refusal("quota", 429)


def test_other_statuses_are_no_refusal() -> None:
    assert refusal_of(500, "当前分组上游负载已饱和") is None
    assert refusal_of(400, "insufficient_quota") is None


def test_a_429_keeps_its_retry_after_on_reads() -> None:
    error = status_error(429, json.dumps(RATE_LIMIT_BODY), retry_after=7.0)
    assert isinstance(error, RateLimitError) and (error.kind, error.retry_after) == (
        "rate_limited",
        7.0,
    )
    assert isinstance(status_error(403, "Invalid token."), AuthenticationError)
    assert refusal_of(429, "", 3.0) == Refusal("rate_limited", 429, 3.0)


@pytest.mark.parametrize(
    ("body", "kind", "key"),
    [
        (SATURATED_BODY, "saturated", "proxy.submit.saturated"),
        (QUOTA_BODY, "quota", "proxy.submit.quota"),
        (RATE_LIMIT_BODY, "rate_limited", "proxy.submit.rate_limited"),
    ],
)
def test_a_429_on_a_submit_is_busy_not_unreachable(
    body: dict[str, object], kind: str, key: str
) -> None:
    text = json.dumps(body, ensure_ascii=False)
    outcome = classify(429, body, text=text, retry_after=2.0)
    assert isinstance(outcome, Busy) and outcome.kind == kind
    assert outcome.message_key == key
    assert not isinstance(outcome, Unavailable)


def test_a_refused_key_on_a_submit_is_still_a_key_refusal() -> None:
    outcome = classify(403, None, text="Invalid token.")
    assert isinstance(outcome, Rejected) and outcome.message_key == "submit.key_refused"
