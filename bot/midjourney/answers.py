"""Reading the proxy's HTTP answers: credentials, bodies, "unknown task", refusals and 429s.

Pure functions over status codes, headers and bodies, shared by the client's submits and reads.
A refusal is told apart by what the service said: a refused key (401/403), an exhausted balance
(any status whose body says so), a saturated upstream, or plain rate limiting (429).
"""

from __future__ import annotations

import email.utils
import json
import time
from dataclasses import dataclass
from typing import Any, Literal

import httpx

AuthStyle = Literal["bearer", "raw", "mj-api-secret"]
# Why a service that answered will not do it now; see `refusal_of`.
RefusalKind = Literal["key_refused", "quota", "saturated", "rate_limited"]

# new-api answers a fetch of an unknown id with HTTP 400 and this description.
_NOT_FOUND_WORDS = ("task_no_found", "task_not_found", "not found", "不存在")
# An exhausted balance: OpenAI-style `insufficient_quota`, new-api's user/token quota, resellers'.
_QUOTA_WORDS = (
    "insufficient_quota",
    "insufficient_user_quota",
    "quota_not_enough",
    "exceeded your current quota",
    "pre_consume_token_quota_failed",
    "额度不足",
    "余额不足",
    "额度已用尽",
    "insufficient balance",
    "balance is not enough",
)
# The relay's upstream is at capacity (new-api code 30 "当前分组上游负载已饱和").
_SATURATED_WORDS = ("饱和", "upstream_error", "saturated", "负载已满", "overloaded")


class _NotJSON:
    """Marker for a body that is not JSON."""


NOT_JSON = _NotJSON()


@dataclass(frozen=True)
class Refusal:
    """The service answered, and said "not now" or "not you"."""

    kind: RefusalKind
    status_code: int
    retry_after: float | None = None


def auth_headers(api_key: str, auth_style: AuthStyle) -> dict[str, str]:
    """The credential header for a backend family; none at all when the key is empty."""
    key = api_key.strip()
    if not key:
        return {}
    if auth_style == "mj-api-secret":
        return {"mj-api-secret": key}
    if auth_style == "raw":
        return {"Authorization": key}
    return {"Authorization": key if key.lower().startswith("bearer ") else f"Bearer {key}"}


def decode_body(response: httpx.Response) -> Any:
    """The JSON body; None when empty; NOT_JSON when it cannot be JSON."""
    raw = response.content
    if not raw.strip():
        return None
    content_type = response.headers.get("content-type", "").lower()
    looks_json = raw.lstrip()[:1] in (b"{", b"[", b"n", b'"')
    if "json" not in content_type and not looks_json:
        return NOT_JSON
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return NOT_JSON


def refusal_of(status_code: int, body: str, retry_after: float | None = None) -> Refusal | None:
    """What a 401/402/403/429 answer means; None for any other status."""
    text = _readable(body).lower()
    if status_code in (401, 402, 403, 429) and any(word in text for word in _QUOTA_WORDS):
        return Refusal("quota", status_code, retry_after)
    if status_code == 402:
        return Refusal("quota", status_code, retry_after)
    if status_code in (401, 403):
        return Refusal("key_refused", status_code)
    if status_code != 429:
        return None
    if any(word in text for word in _SATURATED_WORDS):
        return Refusal("saturated", status_code, retry_after)
    return Refusal("rate_limited", status_code, retry_after)


def _readable(body: str) -> str:
    """The body with JSON's \\u escapes undone ("\\u9971" -> "饱"), so words can be found."""
    if "\\u" not in body:
        return body
    try:
        return body + " " + json.dumps(json.loads(body), ensure_ascii=False)
    except ValueError:
        return body


def is_unknown_task(response: httpx.Response) -> bool:
    """204/empty, or new-api's HTTP 400 `task_no_found`."""
    if response.status_code == 204 or (response.is_success and not response.content.strip()):
        return True
    if response.status_code != 400:
        return False
    payload = decode_body(response)
    return isinstance(payload, dict) and looks_not_found(payload)


def looks_not_found(payload: dict[str, Any]) -> bool:
    text = str(payload.get("description") or "").lower()
    error = payload.get("error")
    if isinstance(error, dict):
        text += " " + str(error.get("message") or "").lower()
    return any(word in text for word in _NOT_FOUND_WORDS)


def retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date)."""
    if not value:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(when.timestamp() - time.time(), 0.0)


def transport_reason(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return "the address cannot be reached"
    if isinstance(exc, httpx.PoolTimeout):
        return "too many requests in flight"
    if isinstance(exc, httpx.TimeoutException):
        return "no answer in time"
    return "the connection broke"
