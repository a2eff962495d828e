"""`mjbot rotate-key`: re-encrypt every stored server API key with a new secret key, in one
transaction (all keys or none), while the bot is stopped."""

from __future__ import annotations

from dataclasses import dataclass

from bot.keys import KeyBox, KeyBoxError
from storage.db import StorageError, open_database
from storage.lock import AlreadyRunningError, InstanceLock
from storage.proxies import ProxyRepository
from storage.url import InvalidDatabaseUrl, parse_database_url


class RotateError(Exception):
    """Nothing was changed; the message is one plain sentence for the operator."""


@dataclass(frozen=True)
class Rotated:
    keys: int


async def rotate_key(database: str, old_key: str, new_key: str) -> Rotated:
    """Decrypt each stored key with the old (or already the new) secret key and encrypt it with
    the new one. Running it twice is harmless."""
    try:
        box = KeyBox(new_key, old_key) if old_key.strip() else KeyBox(new_key)
    except KeyBoxError:
        raise RotateError(
            "The new key is not usable: it must be 32 random bytes in URL-safe base64 "
            "(44 characters), as printed by Fernet.generate_key()."
        ) from None
    try:
        where = parse_database_url(database)
        # SQLite: refused while the bot runs. PostgreSQL has no such lock yet: the operator
        # stops the bot processes first, as the command's help says.
        lock = InstanceLock.acquire(where.target) if where.dialect == "sqlite" else None
    except AlreadyRunningError as exc:
        raise RotateError(f"Stop the bot first: {exc}") from None
    except (InvalidDatabaseUrl, StorageError) as exc:
        raise RotateError(f"The database cannot be opened: {exc}") from None
    try:
        db = await open_database(where)
        try:
            count = await ProxyRepository(db).reencrypt_all(box.reencrypt)
        except KeyBoxError:
            raise RotateError(
                "A stored API key cannot be decrypted with the current security.secret_key "
                "(nor the new key): nothing was changed. Set security.secret_key to the key the "
                "servers' keys were saved with."
            ) from None
        finally:
            await db.close()
    except StorageError as exc:
        raise RotateError(f"The database at '{where}' cannot be opened: {exc}") from None
    finally:
        if lock is not None:
            lock.release()
    return Rotated(count)
