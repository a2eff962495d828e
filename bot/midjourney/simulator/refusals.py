"""Refusals real proxies and relays answer with, as simulator quirks (see quirks.py).

The bodies are the ones the families send: trueai's plain-text `Invalid token.`, new-api's code
30 relay answer for a saturated group, OpenAI-style `insufficient_quota` and
`rate_limit_exceeded` errors from resellers, and a Spring "no static resource" 500 for a
batch route a proxy does not have.
"""

from __future__ import annotations

import json
from functools import partial

from aiohttp import web

_utf8_json = partial(json.dumps, ensure_ascii=False)  # as Go's encoding/json writes it

# Quirk name -> what it does (merged into quirks.QUIRKS).
REFUSAL_QUIRKS: dict[str, str] = {
    "refuse-key-on-polls": "fetch and list-by-condition answer 403 `Invalid token.` (trueai)",
    "saturated-429": "submits and polls answer 429 '当前分组上游负载已饱和' (new-api code 30)",
    "quota-429": "submits and polls answer 429 insufficient_quota (balance spent)",
    "rate-limit-429": "submits and polls answer 429 rate_limit_exceeded with Retry-After: 2",
    "no-batch-route": "list-by-condition answers 500 'No static resource' (fetch still works)",
}

SATURATED_BODY = {
    "description": "当前分组上游负载已饱和，请稍后再试",
    "type": "upstream_error",
    "code": 30,
}
QUOTA_BODY = {
    "error": {
        "message": "You exceeded your current quota, please check your plan and billing details.",
        "type": "insufficient_quota",
        "param": None,
        "code": "insufficient_quota",
    }
}
RATE_LIMIT_BODY = {
    "error": {
        "message": "Rate limit reached for requests. Please try again later.",
        "type": "rate_limit_exceeded",
        "code": "rate_limit_exceeded",
    }
}
RETRY_AFTER_SECONDS = 2


def _is_poll(path: str) -> bool:
    return path.endswith(("/fetch", "/task/list-by-condition", "/task/list-by-ids"))


def refusal_for(quirks: frozenset[str], path: str) -> web.Response | None:
    """The refusal a switched-on quirk answers this request with, or None."""
    poll = _is_poll(path)
    if "no-batch-route" in quirks and path.endswith("/task/list-by-condition"):
        return web.json_response(
            {"code": 500, "message": "No static resource mj/task/list-by-condition."}, status=500
        )
    if "refuse-key-on-polls" in quirks and poll:
        return web.Response(status=403, text="Invalid token.")
    if not (poll or "/submit/" in path):
        return None
    if "saturated-429" in quirks:
        return web.json_response(SATURATED_BODY, status=429, dumps=_utf8_json)
    if "quota-429" in quirks:
        return web.json_response(QUOTA_BODY, status=429)
    if "rate-limit-429" in quirks:
        return web.json_response(
            RATE_LIMIT_BODY, status=429, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        )
    return None
