"""All repositories over one database, opened and closed together."""

from __future__ import annotations

import time
from dataclasses import dataclass
from os import PathLike

from storage.db import Clock, Database
from storage.guilds import GuildRepository
from storage.jobs import JobRepository
from storage.usage import UsageRepository
from storage.users import UserSettingsRepository


@dataclass(frozen=True)
class Repositories:
    db: Database
    jobs: JobRepository
    guilds: GuildRepository
    users: UserSettingsRepository
    usage: UsageRepository

    @classmethod
    def over(cls, db: Database) -> Repositories:
        return cls(
            db=db,
            jobs=JobRepository(db),
            guilds=GuildRepository(db),
            users=UserSettingsRepository(db),
            usage=UsageRepository(db),
        )

    @classmethod
    async def open(cls, path: str | PathLike[str], *, clock: Clock = time.time) -> Repositories:
        """Open and migrate the database at `path`: a file, ":memory:" for a throwaway one, or
        a storage URL (`sqlite:///...`, `postgresql://...`)."""
        return cls.over(await Database.open(path, clock=clock))

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> Repositories:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
