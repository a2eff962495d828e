"""A real PostgreSQL server for the tests, started from the distribution's binaries.

`PostgresServer.start()` runs initdb and pg_ctl in a fresh temporary folder, listening on
127.0.0.1 on a free port (its Unix socket inside the folder), fsync off; `new_database()` gives
each test an empty database of its own (`createdb`, from template0: fast), owned by the role
`mjbot` with a password (`dsn()` is what `storage.url` would hold); `stop()` kills it and removes
the folder. initdb and postgres refuse to run as root, so as root they run as the OS user
`postgres` (pytest-postgresql cannot: it runs them as the current user).

Used by the session fixture `postgres_server` in tests/conftest.py; a whole-process test can
hand `dsn(name)` to bot processes as MJBOT_STORAGE__URL.
"""

from __future__ import annotations

import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

USER = "mjbot"
PASSWORD = "pg-test-secret-7f3a"  # what redaction tests look for in logs and errors
SUPERUSER = "postgres"
SUPERUSER_PASSWORD = "pg-super-secret-91c2"


_BINARIES = ("initdb", "pg_ctl", "postgres", "psql")


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL binaries on this machine."""


def find_bindir() -> Path | None:
    """The folder of initdb/pg_ctl: $PG_BINDIR, PATH, `pg_config --bindir`, then the newest
    /usr/lib/postgresql/*/bin."""
    candidates: list[str] = []
    if os.environ.get("PG_BINDIR"):
        candidates.append(os.environ["PG_BINDIR"])
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).resolve().parent))
    pg_config = shutil.which("pg_config")
    if pg_config:
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass

    def version(path: str) -> tuple[int, ...]:
        part = Path(path).parent.name
        return tuple(int(p) for p in part.split(".") if p.isdigit())

    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=version, reverse=True)
    for folder in candidates:
        if all((Path(folder) / name).is_file() for name in _BINARIES):
            return Path(folder)
    return None


PREFIX = "mjbot-pg-"
OWNER = "owner.pid"  # the test process that started the server in this folder


def stop_abandoned(bindir: Path) -> list[Path]:
    """Stop and remove the servers whose test process is gone: a run killed before its
    fixtures' finalizers (a timeout, SIGKILL) leaves its server running. Returns their folders."""
    stopped = []
    for root in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        try:
            owner = int((root / OWNER).read_text())
        except (OSError, ValueError):
            continue  # not ours, or still being set up
        if _alive(owner):
            continue
        server = PostgresServer(bindir, root, _as_postgres=os.geteuid() == 0)
        server.stop()
        stopped.append(root)
    return stopped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class PostgresServer:
    bindir: Path
    root: Path
    port: int = 0
    _names: itertools.count[int] = field(default_factory=itertools.count)
    _as_postgres: bool = False

    @classmethod
    def start(cls) -> PostgresServer:
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "no PostgreSQL binaries (initdb, pg_ctl, postgres, psql) in $PG_BINDIR, on "
                "PATH, from pg_config --bindir or in /usr/lib/postgresql/*/bin"
            )
        stop_abandoned(bindir)
        root = Path(tempfile.mkdtemp(prefix=PREFIX))
        (root / OWNER).write_text(str(os.getpid()))
        server = cls(bindir, root, _as_postgres=os.geteuid() == 0)
        try:
            server._init()
            server._launch()
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, *args: str, stdin: str | None = None) -> None:
        """Run a server binary (as `postgres` when we are root)."""
        kwargs: dict[str, object] = {}
        if self._as_postgres:
            entry = pwd.getpwnam(SUPERUSER)
            kwargs = {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
        result = subprocess.run(
            [str(self.bindir / args[0]), *args[1:]],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.root,
            env={**os.environ, "LC_ALL": "C", "PGPASSWORD": SUPERUSER_PASSWORD},
            **kwargs,  # type: ignore[arg-type]
        )
        if result.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({result.returncode}): {result.stderr}")

    def _init(self) -> None:
        if self._as_postgres:
            entry = pwd.getpwnam(SUPERUSER)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
        pwfile = self.root / "pwfile"
        pwfile.write_text(SUPERUSER_PASSWORD + "\n")
        if self._as_postgres:
            os.chown(pwfile, pwd.getpwnam(SUPERUSER).pw_uid, -1)
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            SUPERUSER,
            "--pwfile",
            str(pwfile),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--no-sync",
        )

    @property
    def data(self) -> Path:
        return self.root / "data"

    def _launch(self) -> None:
        for attempt in range(3):
            self.port = _free_port()
            options = (
                f"-h 127.0.0.1 -p {self.port} -k {self.root} -F "
                "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
            )
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
                    "-w", "-t", "60", "start",
                )  # fmt: skip
                break
            except RuntimeError:
                if attempt == 2:
                    raise RuntimeError(f"PostgreSQL did not start: {self.log_tail()}") from None
        self.psql(
            f"CREATE ROLE {USER} LOGIN CREATEDB PASSWORD '{PASSWORD}'",
        )

    def log_tail(self) -> str:
        try:
            return (self.root / "log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""

    def psql(self, sql: str, database: str = "postgres") -> None:
        """Run SQL as the superuser over the Unix socket."""
        self._run("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", str(self.root),
                  "-p", str(self.port), "-U", SUPERUSER, "-d", database, "-c", sql)  # fmt: skip

    def new_database(self, prefix: str = "t", *, icu_locale: str | None = None) -> str:
        """An empty database owned by `mjbot` (sorting text in `icu_locale`'s order when
        given, else byte order); returns its name."""
        name = f"{prefix}_{os.getpid()}_{next(self._names)}"
        locale = f" LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}'" if icu_locale else ""
        self.psql(f"CREATE DATABASE {name} OWNER {USER} TEMPLATE template0{locale}")
        return name

    def dsn(self, database: str, *, user: str = USER, password: str = PASSWORD) -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server (immediately: the data is thrown away) and remove its folder."""
        if (self.data / "postmaster.pid").exists():
            try:
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
            except (RuntimeError, subprocess.SubprocessError):
                pass
        shutil.rmtree(self.root, ignore_errors=True)
