"""Connection lifecycle (protocol.md section 1) against a real server and database."""

from __future__ import annotations

import asyncio
import re
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web

from safechat.container import CONNECTION_HANDLERS, SERVICES
from safechat.handlers.connection import ConnectionHandlers
from safechat.services.auth import DevIssuer
from tests.helpers.support import ChatServer, EventClient, refusal, start_server

ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def connected_as(server: ChatServer, url: str | None = None, **kwargs: Any) -> str:
    """Connects with explicit handshake options; returns the sub the server saw."""
    client = EventClient(url or server.url, token="")
    server.clients.append(client)
    kwargs.setdefault("auth", None)
    await client.connect(**kwargs)
    welcome = await client.wait_for("authentication_success")
    await client.close()
    return str(welcome["user"]["userId"])


async def enforce_expiry(app: web.Application, now: float) -> int:
    """One round of the token-expiry loop, at `now`."""
    handlers: ConnectionHandlers = app[CONNECTION_HANDLERS]
    return await app[SERVICES].connections.enforce_expiry(now, handlers.disconnect_expired)


def track_disconnect(client: EventClient) -> None:
    async def on_disconnect(*args: Any) -> None:
        client.events["disconnect"].put_nowait(args)

    client.sio.on("disconnect", on_disconnect)


async def eventually(check: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.05)


# --- handshake authentication ----------------------------------------------------------


async def test_each_token_source_is_accepted(server: ChatServer) -> None:
    auth_tok = server.token("user_via_auth")
    query_tok = server.token("user_via_query")
    header_tok = server.token("user_via_header")
    assert await connected_as(server, auth={"token": auth_tok}) == "user_via_auth"
    assert await connected_as(server, f"{server.url}/?token={query_tok}") == "user_via_query"
    bearer = {"Authorization": f"Bearer {header_tok}"}
    assert await connected_as(server, headers=bearer) == "user_via_header"
    # Long-polling carries the same handshake.
    polling = await connected_as(server, auth={"token": auth_tok}, transports=["polling"])
    assert polling == "user_via_auth"


async def test_first_token_source_wins(server: ChatServer) -> None:
    a = server.token("user_a")
    q = server.token("user_q")
    h = server.token("user_h")
    url_q = f"{server.url}/?token={q}"
    bearer = {"Authorization": f"Bearer {h}"}
    assert await connected_as(server, url_q, auth={"token": a}, headers=bearer) == "user_a"
    assert await connected_as(server, url_q, headers=bearer) == "user_q"

    # A wrong auth.token is not rescued by a good query token or header: auth wins.
    data = await refusal(server, url_q, auth={"token": "garbage"}, headers=bearer)
    assert data["data"]["code"] == "INVALID_TOKEN"
    # A wrong query token is not rescued by a good header.
    data = await refusal(server, f"{server.url}/?token=garbage", headers=bearer)
    assert data["data"]["code"] == "INVALID_TOKEN"


async def test_refusals_carry_code_message_and_timestamp(server: ChatServer) -> None:
    expired = server.token("user_late", now=time.time() - 3600, ttl_seconds=60)
    cases: dict[str, dict[str, Any]] = {
        "AUTHENTICATION_FAILED": {"auth": {}},
        "TOKEN_EXPIRED": {"auth": {"token": expired}},
        "INVALID_TOKEN": {"auth": {"token": "not.a.jwt"}},
    }
    for code, kwargs in cases.items():
        err = await refusal(server, **kwargs)
        assert isinstance(err["message"], str), code
        assert err["message"], code
        assert set(err["data"]) == {"code", "message", "timestamp"}, err
        assert err["data"]["code"] == code
        assert err["data"]["message"] == err["message"]
        assert ISO_Z.match(err["data"]["timestamp"]), err
    # No auth object at all is the same as an empty one.
    assert (await refusal(server))["data"]["code"] == "AUTHENTICATION_FAILED"
    # Nobody was created by the refused handshakes.
    db = server.app[SERVICES].database.db
    assert await db.users.count_documents({"clerkId": "user_late"}) == 0
    assert await db.sessions.count_documents({}) == 0


async def test_tokens_not_from_the_issuer_are_refused(server: ChatServer, tmp_path: Path) -> None:
    # Same key, another issuer.
    other_iss = DevIssuer.load_or_create(server.settings.data_dir, "http://evil.example")
    err = await refusal(server, auth={"token": other_iss.mint("user_x")})
    assert err["data"]["code"] == "INVALID_TOKEN"
    # Right issuer, another key.
    other_key = DevIssuer.load_or_create(tmp_path / "other", server.settings.issuer)
    err = await refusal(server, auth={"token": other_key.mint("user_x")})
    assert err["data"]["code"] == "INVALID_TOKEN"
    # Not yet valid (beyond the 5 s leeway).
    early = server.token("user_x", now=time.time() + 60)
    assert (await refusal(server, auth={"token": early}))["data"]["code"] == "INVALID_TOKEN"
    # A non-string token.
    assert (await refusal(server, auth={"token": 123}))["data"]["code"] == "AUTHENTICATION_FAILED"


# --- what happens on connect -----------------------------------------------------------


async def test_connect_upserts_user_and_welcomes_without_any_event(server: ChatServer) -> None:
    token = server.token(
        "user_claims",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        username="Ada_L",
        extra={"picture": "https://img.example/ada.png"},
    )
    client = await server.client(token, connect=False)
    await client.connect()
    groups = await client.wait_for("user_groups")
    assert groups == []
    # authentication_success came first (same socket, in order).
    welcome = client.drain("authentication_success")
    assert len(welcome) == 1
    user, session_id = welcome[0]["user"], welcome[0]["sessionId"]
    assert user["userId"] == user["id"] == "user_claims"
    assert user["email"] == "ada@example.com"
    assert user["firstName"] == "Ada"
    assert user["lastName"] == "Lovelace"
    assert user["username"] == "ada_l"
    assert user["profileImageUrl"] == "https://img.example/ada.png"
    assert isinstance(session_id, str)
    assert session_id

    status, body = await server.request("GET", "/api/me", token)
    assert status == 200
    me = body["user"]
    for key in ("userId", "email", "firstName", "lastName", "username", "profileImageUrl"):
        assert me[key] == user[key], key

    # A later token with new claims updates the stored profile on the next connect.
    newer = server.token("user_claims", email="ada@new.example", first_name="Augusta")
    second = await server.client(newer)
    assert second.drain("authentication_success")[0]["user"]["firstName"] == "Augusta"
    _, body = await server.request("GET", "/api/me", newer)
    assert body["user"]["email"] == "ada@new.example"


async def test_session_document_lives_and_ends_with_the_socket(server: ChatServer) -> None:
    client = await server.client("user_sess", connect=False)
    await client.connect(headers={"User-Agent": "SafeChatApp/1.0 (iPhone; iOS 17)"})
    welcome = await client.wait_for("authentication_success")
    sessions = server.app[SERVICES].database.db.sessions
    doc = await sessions.find_one({"sessionId": welcome["sessionId"]})
    assert doc is not None
    assert doc["userId"] == "user_sess"
    assert doc["endedAt"] is None
    assert doc["deviceType"] == "mobile"
    assert doc["connectedAt"] is not None

    await client.close()

    async def ended() -> bool:
        found = await sessions.find_one({"sessionId": welcome["sessionId"]})
        return found is not None and found["endedAt"] is not None

    assert await eventually(ended)
    assert await sessions.count_documents({"userId": "user_sess"}) == 1


async def test_socket_is_in_every_group_room_without_join(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    await server.user("user_bob")
    g1 = await server.group(alice, "one", memberIds=["user_bob"])
    g2 = await server.group(alice, "two", memberIds=["user_bob"])
    await server.group(alice, "alice only")
    bob = await server.client("user_bob", connect=False)
    await bob.connect()
    await bob.wait_for("authentication_success")
    groups = await bob.wait_for("user_groups")
    assert sorted(g["id"] for g in groups) == sorted([g1, g2])
    assert all(g["type"] == "group" and g["role"] == "member" for g in groups)

    for gid in (g1, g2):
        status, body = await server.request(
            "POST", "/api/messages", alice, {"groupId": gid, "content": f"to {gid}"}
        )
        assert status == 201, body
        seen = await bob.wait_for("new_message")
        assert seen["message"]["groupId"] == gid
        assert seen["message"]["content"] == f"to {gid}"


async def test_authenticate_resends_identity_and_is_idempotent(server: ChatServer) -> None:
    alice = await server.user("user_alice")
    gid = await server.group(alice, "g")
    client = await server.client(alice)
    first = client.drain("authentication_success")[0]

    for payload in (None, {"userId": "user_mallory", "token": "x"}):
        ack = await client.call("authenticate", payload)
        assert ack["ok"] is True
        assert ack["user"]["userId"] == "user_alice"
        assert ack["sessionId"] == first["sessionId"]
        again = await client.wait_for("authentication_success")
        assert again == {"user": ack["user"], "sessionId": first["sessionId"]}
        groups = await client.wait_for("user_groups")
        assert [g["id"] for g in groups] == [gid]

    sessions = server.app[SERVICES].database.db.sessions
    assert await sessions.count_documents({"userId": "user_alice"}) == 1
    assert await server.app[SERVICES].database.db.users.count_documents({}) == 1


# --- presence ----------------------------------------------------------------------------


async def test_online_on_first_socket_offline_on_last(server: ChatServer) -> None:
    await server.user("user_alice", first_name="Alice")
    bob_tok = await server.user("user_bob")
    await server.group(bob_tok, memberIds=["user_alice"])
    bob = await server.client(bob_tok)

    phone = await server.client("user_alice", first_name="Alice")
    online = await bob.wait_for("user_online")
    assert online["userId"] == "user_alice"
    assert online["status"] == "online"
    assert online["user"]["userId"] == "user_alice"
    assert online["user"]["firstName"] == "Alice"
    await phone.expect_none("user_online", within=0.1)

    laptop = await server.client("user_alice")
    await bob.expect_none("user_online")

    await phone.close()
    await bob.expect_none("user_offline")

    before = time.time()
    await laptop.close()
    offline = await bob.wait_for("user_offline")
    assert set(offline) == {"userId", "lastSeen"}
    assert offline["userId"] == "user_alice"
    assert ISO_Z.match(offline["lastSeen"])

    # Coming back is a first socket again.
    await server.client("user_alice")
    assert (await bob.wait_for("user_online"))["userId"] == "user_alice"
    assert time.time() - before < 5


async def test_presence_reaches_a_socket_once_however_many_groups_it_shares(
    server: ChatServer,
) -> None:
    """Protocol §7: one event per change per socket, not one per shared group."""
    await server.user("user_alice", first_name="Alice")
    bob_tok = await server.user("user_bob")
    for name in ("one", "two", "three"):
        await server.group(bob_tok, name, memberIds=["user_alice"])
    bob = await server.client(bob_tok)
    alice = await server.client("user_alice")
    await bob.wait_for("user_online")
    await bob.expect_none("user_online", within=0.3)
    reply = await alice.call("change_status", {"status": "away"})
    assert reply["ok"], reply
    assert (await bob.wait_for("user_status_changed"))["status"] == "away"
    await bob.expect_none("user_status_changed", within=0.3)
    # Alice's own socket hears her change once too (her user room and the groups' rooms).
    assert (await alice.wait_for("user_status_changed"))["status"] == "away"
    await alice.expect_none("user_status_changed", within=0.3)
    await alice.close()
    await bob.wait_for("user_offline")
    await bob.expect_none("user_offline", within=0.3)


async def test_presence_is_not_announced_to_strangers(server: ChatServer) -> None:
    await server.user("user_alice")
    stranger = await server.client("user_stranger")
    await server.client("user_alice")
    await stranger.expect_none("user_online")


# --- reauth and expiry -----------------------------------------------------------------


async def test_reauth(server: ChatServer) -> None:
    client = await server.client("user_alice")
    fresh = server.token("user_alice", ttl_seconds=7200)
    exp = int(time.time()) + 7200
    ack = await client.call("reauth", {"token": fresh})
    assert ack["ok"] is True
    assert ISO_Z.match(ack["expiresAt"])
    assert abs(datetime.fromisoformat(ack["expiresAt"]).timestamp() - exp) <= 2

    ack = await client.call("reauth", {"token": server.token("user_mallory")})
    assert ack == {
        "ok": False,
        "error": {"code": "ACCESS_DENIED", "message": ack["error"]["message"]},
    }
    err = await client.wait_for("error")
    assert err["code"] == "ACCESS_DENIED"
    assert ISO_Z.match(err["timestamp"])

    ack = await client.call("reauth", {"token": "garbage"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "INVALID_TOKEN"
    expired = server.token("user_alice", now=time.time() - 3600, ttl_seconds=60)
    ack = await client.call("reauth", {"token": expired})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "TOKEN_EXPIRED"
    for bad in ({}, {"token": 5}, "tok", {"token": fresh, "sub": "x"}):
        ack = await client.call("reauth", bad)
        assert ack["ok"] is False, bad
        assert ack["error"]["code"] == "VALIDATION_ERROR", bad

    # Refused reauths leave the socket connected and working as the same user.
    assert client.sio.connected
    ack = await client.call("authenticate")
    assert ack["user"]["userId"] == "user_alice"


async def test_expired_socket_is_told_and_dropped_unless_reauthed(
    mongo_uri: str, db_name: str, tmp_path: Path
) -> None:
    srv = await start_server(
        mongo_uri=mongo_uri,
        db_name=db_name,
        data_dir=tmp_path / "data",
        auth_reauth_grace_seconds=0,
    )
    try:
        short = srv.token("user_stale", ttl_seconds=2)
        exp = jwt.decode(short, options={"verify_signature": False})["exp"]
        stale = await srv.client(short)
        renewed = await srv.client(srv.token("user_renewed", ttl_seconds=2))
        track_disconnect(stale)
        track_disconnect(renewed)
        ack = await renewed.call("reauth", {"token": srv.token("user_renewed", ttl_seconds=3600)})
        assert ack["ok"] is True

        # Not yet expired: nothing happens.
        assert await enforce_expiry(srv.app, exp - 1) == 0
        # Past both short tokens' exp (+ 0 s grace): only the socket that did not reauth goes.
        assert await enforce_expiry(srv.app, exp + 5) == 1
        notice = await stale.wait_for("auth_expired")
        assert notice["code"] == "TOKEN_EXPIRED"
        assert isinstance(notice["message"], str)
        await stale.wait_for("disconnect")
        assert not stale.sio.connected

        await renewed.expect_none("auth_expired", within=0.2)
        assert renewed.sio.connected
        assert (await renewed.call("authenticate"))["ok"] is True

        sessions = srv.app[SERVICES].database.db.sessions

        async def stale_ended() -> bool:
            doc = await sessions.find_one({"userId": "user_stale"})
            return doc is not None and doc["endedAt"] is not None

        assert await eventually(stale_ended)
        # A second pass finds nothing more to do.
        assert await enforce_expiry(srv.app, exp + 10) == 0
    finally:
        await srv.stop()


async def test_default_grace_keeps_expired_sockets_for_a_while(server: ChatServer) -> None:
    token = server.token("user_alice", ttl_seconds=2)
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    client = await server.client(token)
    assert server.settings.auth_reauth_grace_seconds == 1800
    assert await enforce_expiry(server.app, exp + 1799) == 0
    assert client.sio.connected
    assert await enforce_expiry(server.app, exp + 1801) == 1
    assert (await client.wait_for("auth_expired"))["code"] == "TOKEN_EXPIRED"


async def test_username_claimed_by_another_account_does_not_block_sign_in(
    server: ChatServer,
) -> None:
    first = await server.user("user_first", username="Sam")
    second = await server.user("user_second", username="sam", first_name="Other")
    _, me1 = await server.request("GET", "/api/me", first)
    _, me2 = await server.request("GET", "/api/me", second)
    assert me1["user"]["username"] == "sam"
    assert "username" not in me2["user"]
    assert me2["user"]["firstName"] == "Other"
