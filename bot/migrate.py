"""`mjbot migrate --from URL --to URL`: the command's words around `storage.migrate`."""

from __future__ import annotations

import asyncio
import sys
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from storage.migrate import Migrated

DESCRIPTION = """\
Copy every row of an mjbot SQLite database (jobs, their messages and interaction tokens, button
clicks, usage, settings, quotas, bans, banned words, audit log, servers' proxies and their
encrypted keys) into a PostgreSQL database, ids included, in one transaction, then check that
every table holds as many rows as the source. The target is created or brought to the current
schema first, must hold no data (see --replace) and have no bot running on it; on any failure
nothing is written to it.

The source is read from one snapshot and never written. A bot may still be running on it: the
copy is then of that moment. To move for good: stop the bot, run this command (with --replace if
you made a trial copy before), then start the bot with storage.url set to the --to URL."""

EPILOG = """\
exit status: 0 copied and verified; 1 refused or failed (nothing written to the target);
2 a URL names no database this command can copy from or to.
example: mjbot migrate --from sqlite:////data/mjbot.sqlite3 \\
    --to postgresql://mjbot:PASSWORD@db.example:5432/mjbot"""

FROM_HELP = "the SQLite database: sqlite:///relative/path, sqlite:////absolute/path, or a path"
TO_HELP = (
    "the new database: postgresql://USER:PASSWORD@HOST:PORT/DATABASE (must exist; "
    "another SQLite file is accepted too)"
)
REPLACE_HELP = "delete everything the target holds first (in the same transaction), then copy"

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


def run(source: str, target: str, *, replace: bool, out: TextIO = sys.stdout) -> int:
    """Run the copy and print its report; returns the exit status."""
    from storage.migrate import LocationError, MigrateError, migrate

    try:
        result = asyncio.run(migrate(source, target, replace=replace))
    except LocationError as exc:
        print(f"mjbot: migrate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MigrateError as exc:
        print(f"mjbot: migrate: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        print("mjbot: migrate: interrupted, so nothing was written to the target", file=sys.stderr)
        return EXIT_FAILURE
    for line in report(result):
        print(line, file=out)
    return EXIT_OK


def report(result: Migrated) -> list[str]:
    """The table of counts and the closing sentences."""
    width = max(len("table"), *(len(t.name) for t in result.tables))
    numbers = max(len("source"), *(len(f"{t.source:,}") for t in result.tables))
    lines = [f"{'table':<{width}}  {'source':>{numbers}}  {'target':>{numbers}}"]
    lines += [
        f"{t.name:<{width}}  {t.source:>{numbers},}  {t.target:>{numbers},}" for t in result.tables
    ]
    upgraded = (
        f" (brought from schema {result.upgraded_from} to {result.schema_version} on the way)"
        if result.upgraded_from is not None
        else ""
    )
    lines.append(
        f"Copied {result.rows:,} rows of {len(result.tables)} tables from {result.source.shown} "
        f"to {result.target.shown}{upgraded} in {result.seconds:.1f} s: every count matches, "
        f"and new jobs start at id {result.next_job_id}."
    )
    if result.bot_running:
        who = f" (process {result.bot_pid})" if result.bot_pid else ""
        lines.append(
            f"A bot{who} is still running on the source, so this is a copy of the moment it "
            "started: stop the bot, run this command again with --replace, then start the bot "
            "with storage.url set to the --to URL."
        )
    else:
        lines.append("Start the bot with storage.url set to the --to URL.")
    return lines
