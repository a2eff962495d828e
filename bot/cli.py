"""Command line: `mjbot run`, `mjbot check`, `mjbot backup`, `mjbot migrate`, `mjbot rotate-key`,
`mjbot mock-api`, `--version`."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot import gc_pause

# mjbot uses no pydantic plugin. Looking for them reads the metadata of every installed package
# when the first model is built (35-50 ms of every start); a value the operator set wins.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "1")

if TYPE_CHECKING:
    from bot.config import Settings

log = logging.getLogger(__name__)

DEFAULT_CONFIG = "config.toml"
CONFIG_HELP = (
    "path of the TOML config file (default: ./config.toml if present, else only the MJBOT_* "
    "environment variables)"
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mjbot", description="A Discord bot in front of a Midjourney-proxy API."
    )
    parser.add_argument("--version", action=_VersionAction)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    run = sub.add_parser("run", help="run the bot")
    run.add_argument("--config", default=None, help=CONFIG_HELP)
    check = sub.add_parser("check", help="validate the config, open the database, probe the API")
    check.add_argument("--config", default=None, help=CONFIG_HELP)
    backup = sub.add_parser(
        "backup", help="copy the database to PATH (a file or a folder), safe while the bot runs"
    )
    backup.add_argument("path", metavar="PATH", help="where to write the copy")
    backup.add_argument("--config", default=None, help=CONFIG_HELP)
    _add_migrate(sub)
    rotate = sub.add_parser(
        "rotate-key",
        help="re-encrypt the servers' stored API keys with a new security.secret_key",
    )
    rotate.add_argument(
        "--new-key",
        required=True,
        help="the new key (Fernet.generate_key()), or - to read it from standard input",
    )
    rotate.add_argument("--config", default=None, help=CONFIG_HELP)
    mock = sub.add_parser("mock-api", help="serve the built-in Midjourney-proxy simulator")
    mock.add_argument("--host", default="127.0.0.1")
    mock.add_argument("--port", type=int, default=8787)
    mock.add_argument("--mode", choices=("plus", "trueai", "new-api"), default="plus")
    mock.add_argument(
        "--api-key",
        action="append",
        default=[],
        help="a key the simulator accepts (default: none needed); repeat it for several servers",
    )
    mock.add_argument("--prefix", default="/mj", help="path prefix (default /mj)")
    mock.add_argument(
        "--seconds-per-job", type=float, default=8.0, help="how long a simulated job runs"
    )
    mock.add_argument(
        "--quirks",
        default="",
        help="comma-separated names of real proxies' ways to imitate (README: Mock API quirks)",
    )
    return parser


def _add_migrate(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from bot import migrate

    parser = sub.add_parser(
        "migrate",
        help="copy a SQLite database into PostgreSQL (every row, ids kept), verified by counts",
        description=migrate.DESCRIPTION,
        epilog=migrate.EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--from", dest="source", required=True, metavar="URL", help=migrate.FROM_HELP
    )
    parser.add_argument("--to", dest="target", required=True, metavar="URL", help=migrate.TO_HELP)
    parser.add_argument("--replace", action="store_true", help=migrate.REPLACE_HELP)


class _VersionAction(argparse.Action):
    """`--version`: the installed version, looked up only when asked (reading the installed
    packages' metadata costs every start-up several milliseconds otherwise)."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        kwargs.update(nargs=0, default=argparse.SUPPRESS, help="show the version and exit")
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any) -> None:
        print(f"mjbot {package_version()}")
        parser.exit()


def package_version() -> str:
    """The installed distribution's version (pyproject.toml's, once installed)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mjbot")
    except PackageNotFoundError:
        return "unknown (not installed)"


def _load(path: str | None, *, require_token: bool, require_proxy: bool = True) -> Settings | None:
    from bot.config import ConfigError, load_settings, unknown_environment

    if path is None:
        # Without --config: ./config.toml when there is one, else the environment alone.
        path = DEFAULT_CONFIG if Path(DEFAULT_CONFIG).is_file() else None
    for warning in unknown_environment():
        print(f"mjbot: warning: {warning}", file=sys.stderr)
    try:
        return load_settings(path, require_token=require_token, require_proxy=require_proxy)
    except ConfigError as exc:
        if path and not all(exc.from_environment):
            where = f"in '{path}'" + (" and the environment" if any(exc.from_environment) else "")
        else:
            where = "from the environment"
        print(f"mjbot: the configuration {where} cannot be used:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  - {problem}", file=sys.stderr)
        return None


async def _until_signalled(main: Callable[[asyncio.Event], Awaitable[int]]) -> int:
    """Run `main(stop)` and set `stop` on SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await main(stop)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _load(args.config, require_token=True)
    if settings is None:
        return EXIT_CONFIG
    from bot.logs import configure_logging
    from bot.process import run_bot

    configure_logging(
        settings.log_level, _secrets(settings), json_lines=settings.log_format == "json"
    )
    return asyncio.run(_until_signalled(lambda stop: run_bot(settings, stop)))


def _cmd_check(args: argparse.Namespace) -> int:
    settings = _load(args.config, require_token=True)
    if settings is None:
        return EXIT_CONFIG
    from bot.logs import configure_logging
    from bot.process import check_setup

    # The sentences say what went wrong; the client's retry warnings would only repeat it.
    configure_logging("ERROR", _secrets(settings), json_lines=settings.log_format == "json")
    ok, sentences = asyncio.run(check_setup(settings))
    for sentence in sentences:
        print(sentence)
    return EXIT_OK if ok else EXIT_FAILURE


def _cmd_backup(args: argparse.Namespace) -> int:
    settings = _load(args.config, require_token=False, require_proxy=False)
    if settings is None:
        return EXIT_CONFIG
    from storage.backup import backup_database
    from storage.db import StorageError

    database = settings.storage.database
    if database.dialect != "sqlite":
        print(
            f"mjbot: backup copies SQLite files; the database at {database} is on PostgreSQL: "
            "back it up with pg_dump (e.g. pg_dump -Fc -f mjbot.dump with the same URL).",
            file=sys.stderr,
        )
        return EXIT_FAILURE
    try:
        result = backup_database(database.target, args.path)
    except StorageError as exc:
        print(f"mjbot: backup failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(
        f"Backed up '{database}' to '{result.target}': {result.jobs} jobs, "
        f"{result.size_bytes / 1_048_576:.1f} MB, schema {result.schema_version}, "
        f"in {result.seconds:.1f} s."
    )
    return EXIT_OK


def _cmd_rotate_key(args: argparse.Namespace) -> int:
    settings = _load(args.config, require_token=False, require_proxy=False)
    if settings is None:
        return EXIT_CONFIG
    from bot.rotate_key import RotateError, rotate_key

    new_key = sys.stdin.readline().strip() if args.new_key == "-" else args.new_key.strip()
    old_key = settings.security.secret_key.get_secret_value()
    try:
        result = asyncio.run(rotate_key(settings.storage.location, old_key, new_key))
    except RotateError as exc:
        print(f"mjbot: rotate-key: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    print(
        f"Re-encrypted {result.keys} stored API keys with the new key. Now set "
        "security.secret_key (or MJBOT_SECURITY__SECRET_KEY) to the new key, then start the bot."
    )
    return EXIT_OK


def _cmd_migrate(args: argparse.Namespace) -> int:
    from bot.migrate import run

    return run(args.source, args.target, replace=args.replace)


def _cmd_mock_api(args: argparse.Namespace) -> int:
    from bot.logs import configure_logging
    from bot.midjourney.simulator import run_simulator
    from bot.midjourney.simulator.quirks import UnknownQuirkError, parse_quirks

    configure_logging("INFO", list(args.api_key))
    try:
        quirks = parse_quirks(args.quirks)
    except UnknownQuirkError as exc:
        print(f"mjbot: --quirks: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    async def main(stop: asyncio.Event) -> int:
        server = asyncio.create_task(
            run_simulator(
                args.host,
                args.port,
                mode=args.mode,
                api_key=args.api_key,
                prefix=args.prefix,
                seconds_per_job=args.seconds_per_job,
                quirks=quirks,
            )
        )
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({server, waiter}, return_when=asyncio.FIRST_COMPLETED)
        for task in (server, waiter):
            task.cancel()
        await asyncio.gather(server, waiter, return_exceptions=True)
        if server in done and server.exception() is not None:
            print(f"mjbot: the mock API could not run: {server.exception()}", file=sys.stderr)
            return EXIT_FAILURE
        return EXIT_OK

    return asyncio.run(_until_signalled(main))


def _secrets(settings: Settings) -> list[str]:
    return [
        settings.discord.token.get_secret_value(),
        settings.midjourney.api_key.get_secret_value(),
        *settings.storage.database.secrets,  # the password of a postgresql:// storage.url
    ]


# Options whose value may begin with "-": a Fernet key is URL-safe base64 ("-" is one of its 64
# characters), so one new key in 64 starts with it, and argparse would take it for an option.
_DASHED_VALUES = ("--new-key",)
_OPTIONS = frozenset({"--config", "--help", "-h", "--new-key", "--version"})


def _attach_dashed_values(argv: Sequence[str]) -> list[str]:
    """`--new-key -Abc…` -> `--new-key=-Abc…`, so that argparse reads it as the value."""
    joined: list[str] = []
    pending: str | None = None
    for arg in argv:
        if pending is not None:
            if arg.startswith("-") and arg not in _OPTIONS:
                joined[-1] = f"{pending}={arg}"
                pending = None
                continue
            pending = None
        joined.append(arg)
        if arg in _DASHED_VALUES:
            pending = arg
    return joined


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(_attach_dashed_values(sys.argv[1:] if argv is None else argv))
    handlers = {
        "run": _cmd_run,
        "check": _cmd_check,
        "backup": _cmd_backup,
        "migrate": _cmd_migrate,
        "mock-api": _cmd_mock_api,
        "rotate-key": _cmd_rotate_key,
    }
    if args.command == "run":
        gc_pause.pause()  # until the bot is set up (bot/process.py); pydantic loads in _load
    try:
        return handlers[args.command](args)
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        gc_pause.resume()


def entry() -> None:
    sys.exit(main())
