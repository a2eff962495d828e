"""Exceptions raised by the proxy API client's reads, each carrying a sentence for the user."""

from __future__ import annotations

from bot.midjourney.answers import RefusalKind, refusal_of


class MidjourneyError(Exception):
    """Base of every failure of a read from the proxy API; `message` is safe to show a user."""

    default_message = "The Midjourney service could not be asked right now. Please try again later."

    def __init__(self, detail: str = "", *, url: str = "", message: str | None = None) -> None:
        super().__init__(detail or self.default_message)
        self.detail = detail
        self.url = url
        self.message = message or self.default_message


class APIConnectionError(MidjourneyError):
    """The proxy could not be reached (refused connection, DNS failure, dropped connection)."""

    default_message = "The Midjourney service cannot be reached right now. Please try again later."


class APITimeoutError(APIConnectionError):
    """The proxy did not answer in time."""

    default_message = "The Midjourney service did not answer in time. Please try again later."


class BadResponseError(MidjourneyError):
    """The proxy answered with a body that is not the JSON it should be."""

    default_message = "The Midjourney service sent an answer the bot cannot read."

    def __init__(self, detail: str = "", *, url: str = "", status_code: int | None = None) -> None:
        super().__init__(detail, url=url)
        self.status_code = status_code


class APIStatusError(MidjourneyError):
    """The proxy answered with an HTTP error status."""

    default_message = "The Midjourney service refused the request."

    def __init__(self, status_code: int, body: str = "", *, url: str = "") -> None:
        super().__init__(f"HTTP {status_code}", url=url)
        self.status_code = status_code
        self.body = body


class AuthenticationError(APIStatusError):
    """HTTP 401/403: the API key is missing, wrong, or not allowed."""

    default_message = "The Midjourney service refused the bot's API key. Please tell a moderator."


class NotFoundError(APIStatusError):
    """HTTP 404: the endpoint (or the task) does not exist at this address."""

    default_message = "The Midjourney service does not know this request."


class RateLimitError(APIStatusError):
    """HTTP 429 (or a body saying the balance is spent): the service answered "not now".

    `kind` says why: "saturated" (the relay's upstream is full), "quota" (a moderator must top
    up), "rate_limited" (too many requests: wait `retry_after` seconds when given).
    """

    default_message = "The Midjourney service is busy. Please try again in a moment."

    def __init__(
        self,
        status_code: int,
        body: str = "",
        *,
        url: str = "",
        kind: RefusalKind = "rate_limited",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status_code, body, url=url)
        self.kind: RefusalKind = kind
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """HTTP 5xx: the proxy (or something in front of it) failed."""

    default_message = "The Midjourney service is having trouble right now. Please try again later."


def status_error(
    status_code: int, body: str = "", *, url: str = "", retry_after: float | None = None
) -> APIStatusError:
    """The exception class that matches an HTTP error status (and what its body says)."""
    refusal = refusal_of(status_code, body, retry_after)
    if refusal is not None and refusal.kind == "key_refused":
        return AuthenticationError(status_code, body, url=url)
    if refusal is not None:
        return RateLimitError(
            status_code, body, url=url, kind=refusal.kind, retry_after=refusal.retry_after
        )
    if status_code == 404:
        return NotFoundError(status_code, body, url=url)
    if status_code >= 500:
        return ServerError(status_code, body, url=url)
    return APIStatusError(status_code, body, url=url)
