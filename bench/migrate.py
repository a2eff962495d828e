"""`mjbot migrate` benchmark: time and peak memory of copying a database of N jobs (each with a
message and a usage row, as `bench/storage.py` fills it) into the database at --to.

    python bench/migrate.py --rows 100000 --to postgresql://USER:PASSWORD@HOST/SCRATCH_DATABASE

The target is emptied first (--replace). The copy runs as the operator runs it, `python -m bot
migrate` in a child process; its peak RSS is that child's own `ru_maxrss` (os.wait4), and the
database is filled by another child, so the figure is the copy's alone. Run it at two sizes:
memory that does not grow with --rows is the point (rows move a batch at a time).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def fill_source(path: Path, rows: int) -> None:
    """Create the schema through the real migrations, then fill it (runs in a child process)."""
    import asyncio

    sys.path.insert(0, str(REPO))
    from bench.storage import fill
    from storage import Database

    async def create() -> None:
        await (await Database.open(path)).close()

    asyncio.run(create())
    fill(path, rows)


def run(rows: int, target: str, folder: Path) -> None:
    source = folder / "source.sqlite3"
    subprocess.run(
        [sys.executable, __file__, "--fill", str(source), "--rows", str(rows)], cwd=REPO, check=True
    )
    size_mb = source.stat().st_size / 2**20
    started = time.perf_counter()
    command = ["migrate", "--from", str(source), "--to", target, "--replace"]
    child = subprocess.Popen([sys.executable, "-m", "bot", *command], cwd=REPO)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    print(
        f"# rows={rows} jobs (+ as many messages and usage rows), source_mb={size_mb:.0f}, "
        f"exit={child.returncode}, wall_s={seconds:.1f}, peak_rss_mib={usage.ru_maxrss / 1024:.1f}"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="jobs to create and copy")
    parser.add_argument("--to", help="the target database (emptied first)")
    parser.add_argument("--fill", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.fill is not None:
        fill_source(args.fill, args.rows)
        return
    if not args.to:
        parser.error("--to is required")
    with tempfile.TemporaryDirectory(prefix="mjbot-bench-") as folder:
        run(args.rows, args.to, Path(folder))


if __name__ == "__main__":
    main()
