"""The clients of a reconnect storm, in a process of their own (so their CPU does not
slow the probe that measures the node): `python -m tests.fault.storm_clients URL`,
tokens on stdin, one a line, then an empty line. Prints `connected` once all are in;
on a line `go` (the node has restarted) reconnects them all at once and prints a JSON
summary; on `quit` (or end of input) leaves."""

from __future__ import annotations

import asyncio
import json
import sys
import time

import socketio

ATTEMPTS = 5


async def connect(sio: socketio.AsyncClient, url: str, token: str) -> int:
    """Connects and waits for user_groups; returns the retries it needed."""
    for attempt in range(ATTEMPTS):
        got = asyncio.Event()
        sio.on("user_groups", lambda *_, ev=got: ev.set())
        try:
            await sio.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=20)
            await asyncio.wait_for(got.wait(), 20)
            return attempt
        except (socketio.exceptions.ConnectionError, TimeoutError):
            if sio.connected:
                await sio.disconnect()
            await asyncio.sleep(0.5 * (attempt + 1))
    raise RuntimeError(f"a client never got in after {ATTEMPTS} attempts")


async def main(url: str) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    tokens = []
    while (line := (await reader.readline()).decode().strip()) != "":
        tokens.append(line)
    clients = [socketio.AsyncClient(reconnection=False) for _ in tokens]
    await asyncio.gather(*(connect(c, url, t) for c, t in zip(clients, tokens, strict=True)))
    print("connected", flush=True)
    while (command := (await reader.readline()).decode().strip()) == "go":
        for c in clients:  # their transports died with the node
            if c.connected:
                await c.disconnect()
        started = time.monotonic()
        jobs = (connect(c, url, t) for c, t in zip(clients, tokens, strict=True))
        retries = sum(await asyncio.gather(*jobs))
        seconds = time.monotonic() - started
        print(json.dumps({"clients": len(clients), "retries": retries, "seconds": seconds}),
              flush=True)  # fmt: skip
    del command
    for c in clients:
        if c.connected:
            await c.disconnect()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
