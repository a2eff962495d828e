"""`mjbot check`'s probe of the proxy API: one plain sentence per finding."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from bot.midjourney.client import MidjourneyClient
from bot.midjourney.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadResponseError,
    MidjourneyError,
    NotFoundError,
    RateLimitError,
)

# A syntactically plausible id that no proxy will know.
PROBE_TASK_ID = "1000000000000000"


@dataclass(frozen=True)
class ProbeResult:
    """Whether the bot can use the API, and what the operator should read."""

    ok: bool
    sentences: list[str] = field(default_factory=list)


async def probe(client: MidjourneyClient) -> ProbeResult:
    """Fetch a made-up task and list no tasks; explain the first thing that goes wrong.

    Build the client with `max_read_retries=0` for a check: one try each, so the time the
    sentence reports is the time the operator waited.
    """
    where = client.base_url + client.path_prefix
    started = time.monotonic()
    try:
        await client.fetch(PROBE_TASK_ID)
    except MidjourneyError as exc:
        waited = time.monotonic() - started
        return ProbeResult(False, [_explain(client, exc, "task/{id}/fetch", waited)])
    started = time.monotonic()
    try:
        await client.list_by_condition([])
    except (APIStatusError, BadResponseError) as exc:
        if isinstance(exc, AuthenticationError | RateLimitError):
            waited = time.monotonic() - started
            return ProbeResult(False, [_explain(client, exc, "task/list-by-condition", waited)])
        # fetch answered: the tracker polls each job alone (and tries the batch again later)
        return ProbeResult(
            True,
            [
                f"The backend at {where} answers and accepts the key.",
                "It does not offer task/list-by-condition, so the bot will poll each job alone.",
            ],
        )
    except MidjourneyError as exc:
        waited = time.monotonic() - started
        return ProbeResult(False, [_explain(client, exc, "task/list-by-condition", waited)])
    return ProbeResult(True, [f"The backend at {where} answers and accepts the key."])


def _explain(client: MidjourneyClient, exc: MidjourneyError, path: str, waited: float) -> str:
    url = exc.url or client.endpoint(path)
    if isinstance(exc, APITimeoutError):
        return (
            f"The address {client.base_url} does not answer: no reply after waiting "
            f"{waited:.1f} seconds."
        )
    if isinstance(exc, APIConnectionError):
        return f"The address {client.base_url} cannot be reached; check midjourney.base_url."
    if isinstance(exc, AuthenticationError):
        return (
            f"The API key is refused (HTTP {exc.status_code}); "
            "check midjourney.api_key and midjourney.auth_style."
        )
    if isinstance(exc, RateLimitError):
        return _refusal_sentence(client, exc)
    if isinstance(exc, NotFoundError):
        return f"The path prefix seems wrong: {url} answered 404; check midjourney.path_prefix."
    if isinstance(exc, BadResponseError):
        return (
            f"The server at {url} does not answer with JSON; "
            "check midjourney.base_url and midjourney.path_prefix."
        )
    if isinstance(exc, APIStatusError):
        return f"The backend at {url} answered with an error (HTTP {exc.status_code})."
    return f"The backend at {url} cannot be used: {exc.detail or exc.message}"


def _refusal_sentence(client: MidjourneyClient, exc: RateLimitError) -> str:
    """The service answered "not now": say why, never "cannot be reached"."""
    where = client.base_url
    if exc.kind == "quota":
        return (
            f"The backend at {where} says the account's balance is spent (HTTP "
            f"{exc.status_code}); top it up at the proxy or reseller."
        )
    if exc.kind == "saturated":
        return f"The backend at {where} is at capacity (HTTP 429, upstream saturated); try later."
    wait = f" (it asks to wait {exc.retry_after:g} s)" if exc.retry_after else ""
    return f"The backend at {where} limits the requests (HTTP 429){wait}; try again later."
