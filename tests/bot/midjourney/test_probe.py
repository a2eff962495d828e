"""`mjbot check`'s probe: one plain sentence that names what is wrong."""

from __future__ import annotations

import asyncio
import re
import socket

from pydantic import SecretStr

from bot.config import DiscordSettings, MidjourneySettings, Settings, StorageSettings
from bot.midjourney.client import MidjourneyClient
from bot.midjourney.probe import probe
from bot.midjourney.simulator import Simulator
from bot.process import check_setup
from tests.bot.midjourney.conftest import MakeClient, MakeSim


async def test_a_working_backend(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("new-api")
    result = await probe(make_client(sim))
    assert result.ok
    assert result.sentences == [f"The backend at {sim.base_url}/mj answers and accepts the key."]


async def test_a_wrong_key(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("plus")
    result = await probe(make_client(sim, api_key="nope"))
    assert not result.ok
    assert result.sentences == [
        "The API key is refused (HTTP 401); check midjourney.api_key and midjourney.auth_style."
    ]


async def test_a_spent_balance_is_named_not_unreachable(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("new-api", quirks=["quota-429"])
    result = await probe(make_client(sim))
    assert not result.ok
    assert "balance is spent (HTTP 429)" in result.sentences[0]
    assert "cannot be reached" not in result.sentences[0]


async def test_a_batch_route_answering_500_is_fine_when_fetch_works(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("plus", quirks=["no-batch-route"])
    result = await probe(make_client(sim))
    assert result.ok
    assert "poll each job alone" in result.sentences[-1]


async def test_a_wrong_auth_style_for_trueai(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("trueai")
    result = await probe(make_client(sim, auth_style="bearer"))
    assert not result.ok and "API key is refused (HTTP 403)" in result.sentences[0]


async def test_a_wrong_prefix(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("plus")
    result = await probe(make_client(sim, path_prefix="/v1/mj"))
    assert not result.ok
    url = f"{sim.base_url}/v1/mj/task/1000000000000000/fetch"
    assert result.sentences == [
        f"The path prefix seems wrong: {url} answered 404; check midjourney.path_prefix."
    ]


async def test_an_unreachable_address(make_client: MakeClient) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    result = await probe(make_client(Simulator(public_base_url=base)))
    assert not result.ok
    assert result.sentences == [f"The address {base} cannot be reached; check midjourney.base_url."]


async def test_a_server_that_does_not_speak_json(
    make_sim: MakeSim, make_client: MakeClient
) -> None:
    sim = await make_sim("plus")
    sim.inject_fault("fetch", "html")
    result = await probe(make_client(sim))
    assert not result.ok and "does not answer with JSON" in result.sentences[0]


async def test_a_server_that_does_not_answer(make_sim: MakeSim, make_client: MakeClient) -> None:
    sim = await make_sim("plus")
    sim.inject_fault("fetch", "timeout", times=4)
    result = await probe(make_client(sim, timeout=0.2))
    [sentence] = result.sentences
    match = re.fullmatch(
        rf"The address {re.escape(sim.base_url)} does not answer: "
        r"no reply after waiting (\d+\.\d) seconds\.",
        sentence,
    )
    assert match, sentence
    # What it says is what it waited (one timeout of 0.2 s and three retries here).
    assert float(match.group(1)) >= 0.2


async def test_check_tries_a_silent_address_once() -> None:
    """An address that accepts and never answers: `mjbot check` waits for one timeout only.

    The time itself is a benchmark line (bench/check_timeout.py), not asserted here.
    """
    connections: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = Settings(
        discord=DiscordSettings(token=SecretStr("t")),
        midjourney=MidjourneySettings(
            base_url=f"http://127.0.0.1:{port}", request_timeout_seconds=0.3
        ),
        storage=StorageSettings(path=":memory:"),
    )
    try:
        ok, sentences = await check_setup(settings)
    finally:
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()
    assert not ok
    assert len(connections) == 1, "the check retried"
    assert re.fullmatch(
        rf"The address http://127.0.0.1:{port} does not answer: "
        r"no reply after waiting \d+\.\d seconds\.",
        sentences[-1],
    ), sentences


async def test_a_backend_without_batched_reads_still_works(make_sim: MakeSim) -> None:
    sim = await make_sim("plus", supports_list=False)
    async with MidjourneyClient(sim.base_url, "/mj", "sk-test-key-123", "mj-api-secret") as client:
        result = await probe(client)
    assert result.ok and len(result.sentences) == 2
    assert "list-by-condition" in result.sentences[1]
