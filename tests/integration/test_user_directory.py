"""The user directory (protocol §8): prefix search on names, served by an index."""

from __future__ import annotations

import json

from safechat.container import SERVICES
from safechat.repositories.users import search_filter
from tests.helpers.support import ChatServer


async def _search(server: ChatServer, token: str, q: str, limit: int = 20) -> list[str]:
    status, body = await server.request(
        "GET", "/api/users/search", token, params={"q": q, "limit": str(limit)}
    )
    assert status == 200, body
    assert "email" not in json.dumps(body)
    return [u["userId"] for u in body["users"]]


async def test_prefix_search_by_username_first_and_last_name(server: ChatServer) -> None:
    me = await server.user("user_me", first_name="Me", email="me@example.com")
    await server.user(
        "user_ann", first_name="Ann", last_name="Smith", username="annie", email="ann@x.io"
    )
    await server.user("user_andy", first_name="Andrew", last_name="Jones")
    await server.user("user_zed", first_name="Zed", last_name="Anderson")

    assert sorted(await _search(server, me, "an")) == ["user_andy", "user_ann", "user_zed"]
    assert await _search(server, me, "ANNI") == ["user_ann"]  # username, any case
    assert await _search(server, me, "smi") == ["user_ann"]  # last name
    assert await _search(server, me, "ann sm") == ["user_ann"]  # "first last"
    assert await _search(server, me, "nn") == []  # prefixes only
    assert len(await _search(server, me, "an", limit=2)) == 2
    assert await _search(server, me, "me") == []  # never yourself


async def test_profile_changes_and_bad_queries(server: ChatServer) -> None:
    me = await server.user("user_me")
    ann = await server.user("user_ann", first_name="Ann")
    status, _ = await server.request("PATCH", "/api/me", ann, {"lastName": "Quill"})
    assert status == 200
    assert await _search(server, me, "qui") == ["user_ann"]
    for params in ({"q": "a"}, {"q": "  "}, {}, {"q": "ab", "limit": "51"}, {"q": "ab", "x": "1"}):
        status, body = await server.request("GET", "/api/users/search", me, params=params)
        assert status == 400, (params, body)
        assert body["error"]["code"] == "VALIDATION_ERROR"


async def test_deactivated_users_are_left_out(server: ChatServer) -> None:
    me = await server.user("user_me")
    await server.user("user_ann", first_name="Ann")
    db = server.app[SERVICES].database.db
    await db.users.update_one({"clerkId": "user_ann"}, {"$set": {"isActive": False}})
    assert await _search(server, me, "ann") == []
    status, body = await server.request("GET", "/api/users/user_ann", me)
    assert (status, body["error"]["code"]) == (404, "USER_NOT_FOUND")


async def test_get_one_user(server: ChatServer) -> None:
    me = await server.user("user_me")
    await server.user("user_ann", first_name="Ann", email="ann@example.com")
    status, body = await server.request("GET", "/api/users/user_ann", me)
    assert status == 200, body
    assert body["user"] == {"userId": "user_ann", "firstName": "Ann"}
    status, body = await server.request("GET", "/api/users/user_nobody", me)
    assert (status, body["error"]["code"]) == (404, "USER_NOT_FOUND")


async def test_the_search_is_served_by_the_index(server: ChatServer) -> None:
    """Verified on the embedded database itself: the repository's exact filter is an
    IXSCAN of `search_keys` that examines only the matching keys, however many users."""
    db = server.app[SERVICES].database.db
    await db.users.insert_many(
        [
            {"clerkId": f"user_{i}", "isActive": True, "searchKeys": [f"name{i:04d}"]}
            for i in range(2000)
        ]
    )
    plan = await db.users.find(search_filter("name001")).limit(20).explain()
    winning = json.dumps(plan["queryPlanner"]["winningPlan"])
    assert "IXSCAN" in winning, winning
    assert "search_keys" in winning, winning
    assert "COLLSCAN" not in winning
    stats = plan["executionStats"]
    assert stats["totalDocsExamined"] == 10, stats  # name0010 .. name0019
    assert stats["totalKeysExamined"] <= 11, stats
