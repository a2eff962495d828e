"""Expected failures that carry the sentence shown to the user (as an i18n key)."""

from __future__ import annotations


class UserFacingError(Exception):
    """A refusal or failure the user should read: rendered by the one error boundary."""

    def __init__(self, key: str, /, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params
