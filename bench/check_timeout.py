"""How long `mjbot check` makes an operator wait for a proxy that accepts and never answers.

    .venv/bin/python -m bench.check_timeout [--timeout SECONDS]

Starts a TCP server on 127.0.0.1 that accepts connections and never replies, runs the real
`python -m bot check` against it (request_timeout_seconds = --timeout, default 30, so the
check's own 15 s cap applies), and prints one line: wall time, connections made, the sentence.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


async def main(seconds: float) -> None:
    connections = 0
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        writers.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.toml"
        config.write_text(
            f'[discord]\ntoken = "bench"\n[midjourney]\nbase_url = "http://127.0.0.1:{port}"\n'
            f"request_timeout_seconds = {seconds}\n"
            f'[storage]\npath = "{Path(folder) / "db.sqlite3"}"\n',
            encoding="utf-8",
        )
        env = {k: v for k, v in os.environ.items() if not k.upper().startswith("MJBOT_")}
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", "check", "--config", str(config),
            cwd=ROOT, env=env, stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, _ = await process.communicate()
        wall = time.monotonic() - started
    for writer in writers:
        writer.close()
    server.close()
    await server.wait_closed()
    said = out.decode().strip().splitlines()[-1]
    print(f"check_silent_proxy wall={wall:.1f}s connections={connections} said={said!r}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=30.0)
    asyncio.run(main(parser.parse_args().timeout))
