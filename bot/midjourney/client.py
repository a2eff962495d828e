"""Async client of a Midjourney-proxy HTTP API: submits sent once, reads retried with backoff."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any, Literal, Self
from urllib.parse import quote

import httpx
from pydantic import ValidationError

from bot.midjourney.answers import (
    NOT_JSON,
    AuthStyle,
    auth_headers,
    decode_body,
    is_unknown_task,
    looks_not_found,
    retry_after,
    transport_reason,
)
from bot.midjourney.errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadResponseError,
    MidjourneyError,
    NotFoundError,
    RateLimitError,
    ServerError,
    status_error,
)
from bot.midjourney.models import Task
from bot.midjourney.outcomes import SubmitOutcome, Unavailable, classify

__all__ = ["AuthStyle", "Dimensions", "MidjourneyClient", "auth_headers", "decode_body"]

log = logging.getLogger(__name__)

Dimensions = Literal["PORTRAIT", "SQUARE", "LANDSCAPE"]
Sleep = Callable[[float], Awaitable[None]]

# Errors raised before a single byte of the request could leave: a retry cannot double-submit.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_SEED_TIMEOUT = 75.0  # trueai waits up to 60 s for the seed
_BODY_KEPT = 2000  # characters of an error body kept for classification and the log


class MidjourneyClient:
    """One proxy endpoint; owns one httpx connection pool. Use `async with` or call `aclose()`."""

    def __init__(
        self,
        base_url: str,
        path_prefix: str,
        api_key: str,
        auth_style: AuthStyle,
        *,
        timeout: float = 30.0,
        max_read_retries: int = 3,
        backoff_base: float = 0.5,
        backoff_cap: float = 8.0,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Sleep = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        prefix = path_prefix.strip().strip("/")
        self.base_url = base_url.strip().rstrip("/")
        self.path_prefix = f"/{prefix}" if prefix else ""
        self.timeout = timeout
        self._max_read_retries = max(max_read_retries, 0)
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._sleep = sleep
        self._jitter = jitter
        self._closed = False
        self._http = httpx.AsyncClient(
            headers={"Accept": "application/json", **auth_headers(api_key, auth_style)},
            timeout=httpx.Timeout(timeout),
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )

    def __repr__(self) -> str:
        return f"MidjourneyClient({self.endpoint('')!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connection pool; safe to call more than once."""
        if self._closed:
            return
        self._closed = True
        await self._http.aclose()

    def endpoint(self, path: str) -> str:
        """The full URL of an API path such as `task/list-by-condition`."""
        return f"{self.base_url}{self.path_prefix}/{path.lstrip('/')}"

    # ---- submits: sent once ------------------------------------------------------------------
    async def imagine(
        self,
        prompt: str,
        *,
        base64_array: Sequence[str] | None = None,
        notify_hook: str | None = None,
        state: str | None = None,
        bot_type: str | None = None,
    ) -> SubmitOutcome:
        body: dict[str, Any] = {"prompt": prompt}
        if base64_array:
            body["base64Array"] = list(base64_array)
        if bot_type:
            body["botType"] = bot_type
        return await self._submit("submit/imagine", body, notify_hook, state)

    async def action(
        self,
        task_id: str,
        custom_id: str,
        *,
        notify_hook: str | None = None,
        state: str | None = None,
    ) -> SubmitOutcome:
        body = {"taskId": task_id, "customId": custom_id}
        return await self._submit("submit/action", body, notify_hook, state)

    async def modal(
        self,
        task_id: str,
        *,
        prompt: str | None = None,
        mask_base64: str | None = None,
        notify_hook: str | None = None,
    ) -> SubmitOutcome:
        body: dict[str, Any] = {"taskId": task_id}
        if prompt is not None:
            body["prompt"] = prompt
        if mask_base64:
            body["maskBase64"] = mask_base64
        return await self._submit("submit/modal", body, notify_hook, None)

    async def blend(
        self,
        images: list[str],
        dimensions: Dimensions = "SQUARE",
        *,
        notify_hook: str | None = None,
        state: str | None = None,
    ) -> SubmitOutcome:
        body = {"base64Array": list(images), "dimensions": dimensions}
        return await self._submit("submit/blend", body, notify_hook, state)

    async def describe(
        self, image_data_url: str, *, notify_hook: str | None = None, state: str | None = None
    ) -> SubmitOutcome:
        return await self._submit("submit/describe", {"base64": image_data_url}, notify_hook, state)

    async def shorten(
        self, prompt: str, *, notify_hook: str | None = None, state: str | None = None
    ) -> SubmitOutcome:
        return await self._submit("submit/shorten", {"prompt": prompt}, notify_hook, state)

    async def _submit(
        self, path: str, body: dict[str, Any], notify_hook: str | None, state: str | None
    ) -> SubmitOutcome:
        if notify_hook:
            body["notifyHook"] = notify_hook
        if state:
            body["state"] = state
        url = self.endpoint(path)
        attempt = 0
        while True:
            try:
                response = await self._http.post(url, json=body)
            except _NEVER_SENT as exc:
                if attempt >= self._max_read_retries:
                    log.warning("POST %s: not reachable (%s)", path, type(exc).__name__)
                    return Unavailable(transport_reason(exc), maybe_sent=False)
                attempt += 1
                await self._sleep(self._backoff(attempt))
                continue
            except httpx.HTTPError as exc:  # it may have reached the proxy: never resend
                log.warning("POST %s: no answer after sending (%s)", path, type(exc).__name__)
                return Unavailable(transport_reason(exc), maybe_sent=True)
            log.info("POST %s -> %s", path, response.status_code)
            payload = decode_body(response)
            if payload is NOT_JSON:
                if response.status_code < 400:
                    return Unavailable("the answer was not JSON", maybe_sent=True)
                payload = None
            return classify(
                response.status_code,
                payload,
                text=response.text[:_BODY_KEPT],
                retry_after=retry_after(response.headers.get("retry-after")),
            )

    # ---- reads: retried ----------------------------------------------------------------------
    async def fetch(
        self, task_id: str, *, retries: int | None = None, read_timeout: float | None = None
    ) -> Task | None:
        """The task, or None when the proxy does not know it (204, empty, new-api 400)."""
        path = f"task/{quote(task_id, safe='')}/fetch"
        payload = await self.fetch_raw(task_id, retries=retries, read_timeout=read_timeout)
        if payload is None:
            return None
        if not isinstance(payload, dict):
            raise BadResponseError("a task should be a JSON object", url=self.endpoint(path))
        if not payload.get("id"):
            if looks_not_found(payload):
                return None
            raise BadResponseError("the task has no id", url=self.endpoint(path))
        try:
            return Task.model_validate(payload)
        except ValidationError as exc:
            raise BadResponseError(f"unreadable task: {exc.error_count()} errors") from exc

    async def fetch_raw(
        self, task_id: str, *, retries: int | None = None, read_timeout: float | None = None
    ) -> Any:
        """The task's answer as the proxy gave it (decoded JSON), None when it is unknown."""
        path = f"task/{quote(task_id, safe='')}/fetch"
        response = await self._read(
            "GET",
            path,
            not_found_is_none=True,
            retries=retries,
            read_timeout=min(read_timeout, self.timeout) if read_timeout else None,
        )
        return None if response is None else self._json(response, path)

    async def list_by_condition(
        self, ids: Sequence[str], *, retries: int | None = None
    ) -> list[Task]:
        """Tasks for these ids (unknown ones left out). NotFoundError when unsupported (404)."""
        path = "task/list-by-condition"
        response = await self._read("POST", path, body={"ids": list(ids)}, retries=retries)
        assert response is not None
        payload = self._json(response, path)
        if payload is None:
            return []
        if not isinstance(payload, list):
            raise BadResponseError("a task list should be a JSON array", url=self.endpoint(path))
        tasks: list[Task] = []
        for item in payload:
            if not isinstance(item, dict) or not item.get("id"):
                continue
            try:
                tasks.append(Task.model_validate(item))
            except ValidationError:
                log.warning("POST %s: skipped an unreadable task", path)
        return tasks

    async def image_seed(self, task_id: str) -> str | None:
        """The Midjourney seed of a finished task, or None when the proxy has none."""
        path = f"task/{quote(task_id, safe='')}/image-seed"
        try:
            response = await self._read(
                "GET", path, not_found_is_none=True, read_timeout=max(self.timeout, _SEED_TIMEOUT)
            )
        except NotFoundError:
            return None
        if response is None:
            return None
        payload = self._json(response, path)
        if not isinstance(payload, dict) or payload.get("code") not in (1, "1"):
            return None
        seed = payload.get("result")
        return str(seed) if seed not in (None, "") else None

    async def cancel(self, task_id: str) -> bool:
        """Ask the proxy to drop a task (e.g. an abandoned dialog). False when unsupported."""
        path = f"task/{quote(task_id, safe='')}/cancel"
        try:
            response = await self._read("POST", path, body={})
        except AuthenticationError:
            raise
        except APIStatusError as exc:
            if 400 <= exc.status_code < 500:  # 404/405: no cancel here; 400: not allowed
                return False
            raise
        if response is None or not response.is_success:
            return False
        payload = decode_body(response)
        if isinstance(payload, dict) and "code" in payload:
            return payload.get("code") in (1, "1")
        return True

    def _json(self, response: httpx.Response, path: str) -> Any:
        payload = decode_body(response)
        if payload is NOT_JSON:
            raise BadResponseError(
                "the answer is not JSON", url=self.endpoint(path), status_code=response.status_code
            )
        return payload

    async def _read(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        not_found_is_none: bool = False,
        read_timeout: float | None = None,
        retries: int | None = None,
    ) -> httpx.Response | None:
        """Send an idempotent request, retrying transient failures; None for "no such task".

        A spent balance, a saturated relay, or a Retry-After longer than the backoff cap is left
        to the caller.
        """
        url = self.endpoint(path)
        limit = self._max_read_retries if retries is None else max(retries, 0)
        attempt = 0
        while True:
            error, wait = await self._read_once(method, path, url, body, read_timeout)
            if not isinstance(error, MidjourneyError):
                response = error
                if not_found_is_none and is_unknown_task(response):
                    return None
                if response.status_code >= 400:
                    raise status_error(response.status_code, response.text[:_BODY_KEPT], url=url)
                return response
            if attempt >= limit or self._caller_waits(error):
                raise error
            attempt += 1
            delay = self._backoff(attempt)
            if wait is not None:
                delay = min(max(wait, delay), self._backoff_cap)
            await self._sleep(delay)

    async def _read_once(
        self, method: str, path: str, url: str, body: Any, read_timeout: float | None
    ) -> tuple[httpx.Response | MidjourneyError, float | None]:
        """One attempt: the response, or the retryable error with any Retry-After."""
        try:
            response = await self._http.request(
                method,
                url,
                json=body,
                timeout=httpx.Timeout(read_timeout) if read_timeout else httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.TimeoutException as exc:
            log.warning("%s %s: timed out (%s)", method, path, type(exc).__name__)
            return APITimeoutError(transport_reason(exc), url=url), None
        except httpx.HTTPError as exc:
            log.warning("%s %s: connection failed (%s)", method, path, type(exc).__name__)
            return APIConnectionError(transport_reason(exc), url=url), None
        log.debug("%s %s -> %s", method, path, response.status_code)
        status = response.status_code
        wait = retry_after(response.headers.get("retry-after"))
        if status == 429:
            error: MidjourneyError = status_error(
                status, response.text[:_BODY_KEPT], url=url, retry_after=wait
            )
            return error, wait
        if status >= 500:
            error = ServerError(status, response.text[:_BODY_KEPT], url=url)
            return error, wait
        return response, None

    def _caller_waits(self, error: MidjourneyError) -> bool:
        """A spent balance never clears by retrying, a saturated relay is not helped by more
        requests, and a Retry-After past the backoff cap is honoured by the caller (the tracker
        waits it), not shortened here."""
        if not isinstance(error, RateLimitError):
            return False
        if error.kind in ("quota", "saturated"):
            return True
        return (error.retry_after or 0.0) > self._backoff_cap

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter."""
        ceiling = min(self._backoff_cap, self._backoff_base * 2.0 ** (attempt - 1))
        return self._jitter() * ceiling
