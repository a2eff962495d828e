"""The simulator's refusal quirks answer as the real proxies do; README lists every quirk."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from bot.midjourney.simulator.quirks import QUIRKS
from tests.bot.midjourney.conftest import KEY, MakeSim

HEADERS = {"mj-api-secret": KEY}


@pytest.mark.parametrize(
    ("quirk", "path", "status", "words"),
    [
        ("refuse-key-on-polls", "task/1/fetch", 403, "Invalid token."),
        ("refuse-key-on-polls", "task/list-by-condition", 403, "Invalid token."),
        ("saturated-429", "submit/imagine", 429, "上游负载已饱和"),
        ("saturated-429", "task/list-by-condition", 429, "upstream_error"),
        ("quota-429", "submit/imagine", 429, "insufficient_quota"),
        ("rate-limit-429", "task/1/fetch", 429, "rate_limit_exceeded"),
        ("no-batch-route", "task/list-by-condition", 500, "No static resource"),
    ],
)
async def test_refusal_quirks(
    make_sim: MakeSim, quirk: str, path: str, status: int, words: str
) -> None:
    sim = await make_sim("plus", quirks=[quirk])
    url = f"{sim.base_url}{sim.prefix}/{path}"
    async with httpx.AsyncClient() as http:
        method = "GET" if path.endswith("/fetch") else "POST"
        body = {"ids": ["1"]} if "list" in path else {"prompt": "a fox"}
        response = await http.request(method, url, json=body, headers=HEADERS)
        assert response.status_code == status and words in response.text
        if quirk == "rate-limit-429":
            assert response.headers["Retry-After"] == "2"
        if quirk in ("refuse-key-on-polls", "no-batch-route"):
            # Submits (and, without the key quirk, fetch) still work.
            submit = f"{sim.base_url}{sim.prefix}/submit/imagine"
            ok = await http.post(submit, json={"prompt": "a fox"}, headers=HEADERS)
            assert ok.status_code == 200 and ok.json()["code"] == 1


def test_readme_lists_every_quirk() -> None:
    readme = (Path(__file__).parents[3] / "README.md").read_text("utf-8")
    section = readme.split("### Mock API quirks", 1)[1].split("\n## ", 1)[0]
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", section, re.MULTILINE))
    assert listed == set(QUIRKS)
