"""Servers' own API keys encrypted at rest (Fernet, key from `[security] secret_key`). Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    # cryptography (about 7 MiB of OpenSSL bindings) loads when a secret key is first used.
    from cryptography.fernet import Fernet

__all__ = ["KeyBox", "KeyBoxError", "key_hint"]


class KeyBoxError(Exception):
    """A secret key that is not a Fernet key, or a stored key it cannot decrypt."""


def _fernet(secret_key: str) -> Fernet:
    from cryptography.fernet import Fernet

    try:
        return Fernet(secret_key.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError):
        # The message names no value: the caller says which setting is wrong.
        raise KeyBoxError("not 32 bytes of URL-safe base64") from None


class KeyBox:
    """Encrypts with the current secret key; decrypts with it or any older one given."""

    def __init__(self, secret_key: str, *older: str) -> None:
        from cryptography.fernet import MultiFernet

        self._current = _fernet(secret_key)
        self._all = MultiFernet([self._current, *(_fernet(k) for k in older)])

    def encrypt(self, api_key: str) -> str:
        return self._current.encrypt(api_key.encode("utf-8")).decode("ascii")

    def decrypt(self, stored: str) -> str:
        from cryptography.fernet import InvalidToken

        try:
            return self._all.decrypt(stored.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError):
            raise KeyBoxError(
                "a stored API key cannot be decrypted with security.secret_key"
            ) from None

    def reencrypt(self, stored: str) -> str:
        """`stored` encrypted with the current key (it may have been encrypted with an older)."""
        return self.encrypt(self.decrypt(stored))


def key_hint(api_key: str) -> str:
    """What may be shown of a key: its last 4 characters (nothing of a short one)."""
    key = api_key.strip()
    return key[-4:] if len(key) >= 12 else ""
