"""UserService's per-node caches run on the clock's monotonic time: moved by the test."""

from __future__ import annotations

from safechat.services.auth import Claims
from safechat.services.users import SUMMARY_TTL_SECONDS, UPSERT_EVERY_SECONDS
from tests.unit.services.conftest import World


async def test_a_rest_caller_is_upserted_at_most_every_few_minutes(world: World) -> None:
    claims = Claims(sub="alice", exp=None, first_name="Alice")
    await world.users.ensure(claims)
    await world.users.ensure(claims)
    assert world.user_repo.count("upsert") == 1
    world.clock.advance(UPSERT_EVERY_SECONDS)
    await world.users.ensure(claims)
    assert world.user_repo.count("upsert") == 1
    world.clock.advance(1)
    # Due again: read, and written only because a claim changed.
    await world.users.ensure(claims)
    assert world.user_repo.count("upsert") == 1
    renamed = Claims(sub="alice", exp=None, first_name="Alicia")
    world.clock.advance(UPSERT_EVERY_SECONDS + 1)
    await world.users.ensure(renamed)
    assert world.user_repo.count("upsert") == 2
    assert world.user_repo.docs["alice"]["firstName"] == "Alicia"
    assert world.user_repo.docs["alice"]["lastSeen"] == world.clock.now()


async def test_a_sign_in_writes_only_what_the_token_changed(world: World) -> None:
    claims = Claims(sub="alice", exp=None, first_name="Alice", username="Alice_1")
    first = await world.users.upsert_from_claims(claims)
    assert first.username == "alice_1"
    assert world.user_repo.count("upsert") == 1
    # The same claims again (a reconnect): read, nothing written.
    again = await world.users.upsert_from_claims(claims)
    assert again == first
    assert world.user_repo.count("upsert") == 1
    # A claim the token no longer carries is not a change (claims only ever set fields).
    await world.users.upsert_from_claims(Claims(sub="alice", exp=None))
    assert world.user_repo.count("upsert") == 1
    # A new claim is written, and drops this node's cached summary at once.
    assert (await world.users.summary("alice"))["firstName"] == "Alice"
    await world.users.upsert_from_claims(Claims(sub="alice", exp=None, last_name="Liddell"))
    assert world.user_repo.count("upsert") == 2
    assert (await world.users.summary("alice"))["lastName"] == "Liddell"


async def test_sender_summaries_are_cached_for_a_short_while(world: World) -> None:
    world.user_repo.seed("alice", firstName="Alice")
    assert (await world.users.summary("alice"))["firstName"] == "Alice"
    # Changed through another node: this node's entry is stale for up to its TTL.
    world.user_repo.docs["alice"]["firstName"] = "Alicia"
    world.clock.advance(SUMMARY_TTL_SECONDS - 1)
    await world.users.warm(["alice"])
    assert (await world.users.summary("alice"))["firstName"] == "Alice"
    world.clock.advance(1)
    # Expired: `warm` (the send path, before the emit) refreshes it...
    await world.users.warm(["alice"])
    assert (await world.users.summary("alice"))["firstName"] == "Alicia"
    # ...and without a warm an entry is still served until twice the TTL.
    world.user_repo.docs["alice"]["firstName"] = "Al"
    world.clock.advance(2 * SUMMARY_TTL_SECONDS - 1)
    assert (await world.users.summary("alice"))["firstName"] == "Alicia"
    world.clock.advance(1)
    assert (await world.users.summary("alice"))["firstName"] == "Al"
