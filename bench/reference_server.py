"""A bare python-socketio chat server: the benchmark's reference (bench/README.md).

    python bench/reference_server.py [--host 127.0.0.1] [--port 3002]

What a send costs with python-socketio + aiohttp alone: no auth (the bearer token, or
`auth.token` on connect, *is* the user id), no database, no validation, state in memory.
Configured as SafeChat configures its stack: uvloop, orjson as the Socket.IO JSON codec
(when installed), WebSocket permessage-deflate off. Standalone on purpose: it imports
nothing from safechat. The events and REST shapes are the ones bench.mjs uses, with the
same socket traffic per send as SafeChat: an ack, `message_sent` to the sending socket and
`new_message {message, sender}` to the group's room, skipping the sender's socket.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import socketio
from aiohttp import web
from engineio.async_drivers.aiohttp import WebSocket

try:
    import orjson
except ImportError:  # the codec falls back to python-socketio's default (json)
    orjson = None


class OrjsonCodec:
    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(text)


class PlainWebSocket(WebSocket):
    """engineio's aiohttp WebSocket without permessage-deflate (aiohttp's default is on)."""

    async def __call__(self, environ: dict[str, Any]) -> web.WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = web.WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


def iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


sio = socketio.AsyncServer(
    async_mode="aiohttp",
    logger=False,
    engineio_logger=False,
    json=OrjsonCodec() if orjson else None,
)
sio.eio._async = {**sio.eio._async, "websocket": PlainWebSocket}
groups: dict[str, dict[str, Any]] = {}  # id -> {id, name, ownerId, members, lastSeq}
member_of: dict[str, list[str]] = {}  # user id -> group ids
users: dict[str, str] = {}  # sid -> user id
ids = itertools.count(1)


def user_view(uid: str) -> dict[str, Any]:
    return {"userId": uid, "firstName": "Bench", "lastName": uid}


def group_view(g: dict[str, Any], uid: str) -> dict[str, Any]:
    role = "owner" if g["ownerId"] == uid else "member"
    return {"id": g["id"], "name": g["name"], "isPrivate": False, "memberCount": len(g["members"]),
            "type": "group", "ownerId": g["ownerId"], "lastSeq": g["lastSeq"], "role": role,
            "unreadCount": g["lastSeq"], "lastMessage": g.get("lastMessage")}  # fmt: skip


def bearer(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer ") or not header[7:].strip():
        raise web.HTTPUnauthorized(text='{"success":false}', content_type="application/json")
    return header[7:].strip()


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "database": "none"})


async def me(request: web.Request) -> web.Response:
    uid = bearer(request)
    return web.json_response({"success": True, "user": {**user_view(uid), "id": uid}})


async def create_group(request: web.Request) -> web.Response:
    uid = bearer(request)
    body = await request.json()
    gid = f"g{next(ids):023d}"
    members = [uid, *(m for m in body.get("memberIds", []) if m != uid)]
    g = {"id": gid, "name": body.get("name", gid), "ownerId": uid, "members": members, "lastSeq": 0}
    groups[gid] = g
    for m in members:
        member_of.setdefault(m, []).append(gid)
    return web.json_response({"success": True, "group": group_view(g, uid)}, status=201)


async def post_message(request: web.Request) -> web.Response:
    """REST send (the storm's history): stored as the group's last message, no emit."""
    uid = bearer(request)
    body = await request.json()
    g = groups[str(body.get("groupId"))]
    g["lastSeq"] += 1
    now = iso()
    g["lastMessage"] = {"id": f"m{next(ids):023d}", "groupId": g["id"], "seq": g["lastSeq"],
                        "senderId": uid, "type": "text", "content": str(body.get("content")),
                        "timestamp": now, "createdAt": now}  # fmt: skip
    return web.json_response({"success": True, "message": g["lastMessage"]}, status=201)


@sio.event
async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> bool:
    auth = auth if isinstance(auth, dict) else {}
    query = parse_qs(environ.get("QUERY_STRING", ""))
    uid = str(auth.get("token") or auth.get("userId") or query.get("token", [sid])[0])
    users[sid] = uid
    await sio.enter_room(sid, f"user:{uid}")
    # The groups: from the auth payload or the query when given, else those it was added to.
    extra = auth.get("groups") or (
        query.get("groups", [""])[0].split(",") if "groups" in query else []
    )
    mine = list(dict.fromkeys([*member_of.get(uid, []), *extra]))
    for gid in mine:
        await sio.enter_room(sid, f"group:{gid}")
    sio.start_background_task(welcome, sid, uid, mine)
    return True


async def welcome(sid: str, uid: str, mine: list[str]) -> None:
    # As SafeChat does: emit once the CONNECT packet is out.
    for _ in range(500):
        if sio.manager.is_connected(sid, "/"):
            break
        await sio.sleep(0.01)
    await sio.emit("authentication_success", {"user": user_view(uid), "sessionId": sid}, to=sid)
    await sio.emit("user_groups", [group_view(groups[g], uid) for g in mine if g in groups], to=sid)


@sio.event
async def disconnect(sid: str, *args: Any) -> None:
    users.pop(sid, None)


@sio.event
async def send_message(sid: str, data: Any) -> dict[str, Any]:
    uid = users.get(sid)
    if uid is None or not isinstance(data, dict) or not isinstance(data.get("content"), str):
        return {"ok": False, "error": {"code": "VALIDATION_ERROR", "message": "bad payload"}}
    gid = str(data.get("groupId"))
    g = groups.setdefault(
        gid, {"id": gid, "name": gid, "ownerId": uid, "members": [], "lastSeq": 0}
    )
    g["lastSeq"] += 1
    now = iso()
    message = {"id": f"m{next(ids):023d}", "groupId": gid, "roomId": gid, "seq": g["lastSeq"],
               "senderId": uid, "type": "text", "content": data["content"], "readBy": [],
               "reactions": {}, "isDeleted": False, "timestamp": now, "createdAt": now,
               "updatedAt": now}  # fmt: skip
    await sio.emit("new_message", {"message": message, "sender": user_view(uid)},
                   room=f"group:{gid}", skip_sid=sid)  # fmt: skip
    own = {**message, "tempId": data.get("tempId")}
    await sio.emit("message_sent", {"message": own, "tempId": data.get("tempId")}, to=sid)
    return {"ok": True, "message": own, "duplicate": False}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3002)
    parser.add_argument("--event-loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args()
    app = web.Application()
    sio.attach(app)
    app.router.add_get("/health", health)
    app.router.add_get("/api/me", me)
    app.router.add_post("/api/groups", create_group)
    app.router.add_post("/api/messages", post_message)
    loop = None
    if args.event_loop == "uvloop":
        import uvloop

        loop = uvloop.new_event_loop()
    info = {"pid": os.getpid(), "loop": args.event_loop, "json": "orjson" if orjson else "json"}
    print(f"reference server on http://{args.host}:{args.port} {json.dumps(info)}", flush=True)
    web.run_app(app, host=args.host, port=args.port, access_log=None, print=None, loop=loop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
