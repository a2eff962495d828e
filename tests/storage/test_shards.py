"""ShardScope: Discord's shard rule, and the repositories' queries filtered by it."""

from __future__ import annotations

import pytest

from storage import Repositories
from storage.shards import ALL_SHARDS, MAX_SHARD_COUNT, Claim, ShardScope, overlaps, shard_of
from tests.storage.support import T0, new_job

# Real-sized snowflakes on shards 0, 1, 2 and 3 of 4 (the shard is (id >> 22) % count).
GUILDS = [(1_300_000_000_000 + n) << 22 | 12345 for n in range(4)]


def test_shard_of_follows_discords_rule() -> None:
    assert shard_of(81384788765712384, 17) == 7  # the example Discord's libraries document
    assert [shard_of(g, 4) for g in GUILDS] == [0, 1, 2, 3]
    assert [shard_of(g, 2) for g in GUILDS] == [0, 1, 0, 1]
    assert shard_of(None, 4) == 0  # direct messages: shard 0
    with pytest.raises(ValueError):
        shard_of(GUILDS[0], 0)


def test_owns() -> None:
    odd = ShardScope.of(4, [3, 1])
    assert odd.shards == (1, 3)
    assert [odd.owns(g) for g in GUILDS] == [False, True, False, True]
    assert not odd.owns(None) and not odd.runs_chores
    zero = ShardScope.of(2, [0])
    assert [zero.owns(g) for g in GUILDS] == [True, False, True, False]
    assert zero.owns(None) and zero.runs_chores
    for everything in (ALL_SHARDS, ShardScope.of(4), ShardScope.of(2, [0, 1])):
        assert everything.everything and everything.runs_chores
        assert all(everything.owns(g) for g in [*GUILDS, None])
    assert ShardScope.of(4).shards == (0, 1, 2, 3) and ALL_SHARDS.shards == ()


@pytest.mark.parametrize(("count", "ids"), [(2, [2]), (2, [-1]), (2, [1, 1]), (0, [0]), (-1, [])])
def test_impossible_scopes_are_refused(count: int, ids: list[int]) -> None:
    with pytest.raises(ValueError):
        ShardScope.of(count, ids)


def test_describe() -> None:
    assert ALL_SHARDS.describe() == "all shards (automatic)"
    assert ShardScope.of(2).describe() == "all 2 shards"
    assert ShardScope.of(4, [1]).describe() == "shard 1 of 4"
    assert ShardScope.of(4, [3, 0]).describe() == "shards 0, 3 of 4"


async def _jobs_everywhere(repos: Repositories) -> dict[int | None, int]:
    """One unfinished job per guild plus one in direct messages: guild -> job id."""
    made = {}
    for guild_id in [*GUILDS, None]:
        made[guild_id] = (await new_job(repos, guild_id=guild_id)).id
    return made


async def test_unfinished_jobs_of_a_scope(repos: Repositories) -> None:
    made = await _jobs_everywhere(repos)
    everything = sorted(made.values())
    assert [j.id for j in await repos.jobs.unfinished()] == everything
    assert [j.id for j in await repos.jobs.unfinished(ShardScope.of(4))] == everything
    odd = await repos.jobs.unfinished(ShardScope.of(4, [1, 3]))
    assert [j.id for j in odd] == [made[GUILDS[1]], made[GUILDS[3]]]
    zero = await repos.jobs.unfinished(ShardScope.of(2, [0]))
    assert [j.id for j in zero] == sorted([made[GUILDS[0]], made[GUILDS[2]], made[None]])
    assert (await repos.jobs.count_unfinished(ShardScope.of(2, [1]))) == {"submitting": 2}
    assert (await repos.jobs.count_unfinished()) == {"submitting": 5}


async def test_awaiting_upload_of_a_scope(repos: Repositories) -> None:
    made = await _jobs_everywhere(repos)
    for job_id in made.values():
        await repos.jobs.mark_submitted(job_id, f"task-{job_id}")
        await repos.jobs.complete(job_id, state="success", image_url="https://cdn/x.png")
    one = await repos.jobs.awaiting_upload(T0 - 1, ShardScope.of(4, [2]))
    assert [j.id for j in one] == [made[GUILDS[2]]]
    assert len(await repos.jobs.awaiting_upload(T0 - 1)) == 5


def test_claims_and_their_lock_keys() -> None:
    assert ALL_SHARDS.claims() == (Claim(0, 0),)
    assert ShardScope.of(4, [3, 1]).claims() == (Claim(4, 1), Claim(4, 3))
    assert ShardScope.of(2).claims() == (Claim(2, 0), Claim(2, 1))
    for claim in (Claim(0, 0), Claim(2, 1), Claim(MAX_SHARD_COUNT, MAX_SHARD_COUNT - 1)):
        assert 0 <= claim.key < 2**31 - 1  # an int4, below the key that orders the claimers
        assert Claim.from_key(claim.key) == claim


def test_overlapping_claims() -> None:
    assert overlaps(Claim(0, 0), Claim(2, 1)) and overlaps(Claim(4, 3), Claim(0, 0))
    assert overlaps(Claim(2, 1), Claim(2, 1)) and not overlaps(Claim(2, 0), Claim(2, 1))
    # A guild on shard 1 of 4 is on shard 1 of 2, never on shard 0 of 2.
    assert overlaps(Claim(4, 1), Claim(2, 1)) and not overlaps(Claim(4, 1), Claim(2, 0))
    assert overlaps(Claim(3, 2), Claim(2, 0))  # gcd 1: some guild is on both
    # Brute force agrees with the rule.
    for n in range(1, 7):
        for m in range(1, 7):
            for s in range(n):
                for t in range(m):
                    shared = any(x % n == s and x % m == t for x in range(n * m))
                    assert overlaps(Claim(n, s), Claim(m, t)) == shared
