"""permessage-deflate is off by default (design section 6) and can be turned on."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from tests.helpers.support import ChatServer, start_server


async def _negotiated_extensions(url: str, token: str) -> str:
    ws_url = (
        url.replace("http://", "ws://") + f"/socket.io/?EIO=4&transport=websocket&token={token}"
    )
    # compress=15 makes the client offer permessage-deflate, as browsers do.
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(ws_url, compress=15) as ws,
    ):
        header = ws._response.headers.get("Sec-WebSocket-Extensions", "")
        opening = await ws.receive_str()  # engine.io OPEN packet
        assert opening.startswith("0{")
        return header


async def test_deflate_is_refused_by_default(server: ChatServer) -> None:
    token = await server.user("user_ws")
    assert await _negotiated_extensions(server.url, token) == ""


async def test_deflate_can_be_enabled(mongo_uri: str, db_name: str, tmp_path: Path) -> None:
    srv = await start_server(
        mongo_uri=mongo_uri, db_name=db_name, data_dir=tmp_path, websocket_compression=True
    )
    try:
        token = await srv.user("user_ws")
        assert "permessage-deflate" in await _negotiated_extensions(srv.url, token)
    finally:
        await srv.stop()
