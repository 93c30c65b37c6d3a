"""Soak: a steady mixed load on one `safechat serve` for SOAK_SECONDS (default 600).

    .venv/bin/python bench/soak.py            # or `make soak`; bench/README.md explains

Sends, typing, reads (marks, sync, REST history), reconnects, uploads and AI requests,
each at a fixed rate over a few dozen clients. Every SOAK_INTERVAL seconds (default 60)
it prints the server's RSS (and its embedded database's), its open file descriptors, the
p99 latency of everything answered in that interval and the errors. After warm-up (the
first interval) it checks that the load left nothing growing:
  - RSS: the last interval at most max(10 %, 25 MB) above the first after warm-up;
  - open fds: within 10 of each other over the intervals after warm-up;
  - p99: no interval above max(2 x the median interval p99, median + 50 ms);
  - no errors (a refusal, a timeout, a failed request).
Prints `SOAK PASS` or `SOAK FAIL: ...`, writes bench/results/soak-<time>.json, and
exits 0 (pass), 2 (errors) or 3 (not flat); 1 is a crash. Starts its own server on loopback with a
fresh data dir (embedded database), the abuse limits raised out of the way.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import socketio
from PIL import Image

from safechat.services.auth import DevIssuer

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 10.0
# Operations per second over all clients.
RATES = {
    "send": 20.0,
    "typing": 8.0,
    "read": 4.0,
    "sync": 4.0,
    "history": 2.0,
    "reconnect": 0.5,
    "upload": 0.2,
    "ai": 0.5,
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        out.extend(int(c) for c in text)
    return out


@dataclass
class Interval:
    latencies: list[float] = field(default_factory=list)
    ops: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)


@dataclass
class Client:
    token: str
    gid: str
    sio: socketio.AsyncClient
    last_seq: int = 0


class Soak:
    def __init__(self, url: str, issuer: DevIssuer, users: int, group_size: int) -> None:
        self.url = url
        self.issuer = issuer
        self.users = users
        self.group_size = group_size
        self.clients: list[Client] = []
        self.now = Interval()
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT))
        self.inflight = 0
        self.png_seed = 0

    async def setup(self) -> None:
        tokens = [
            self.issuer.mint(f"soak_{i:04d}", ttl_seconds=6 * 3600) for i in range(self.users)
        ]
        for t in tokens:  # sign in, so they can be added to groups
            async with self.http.get(self.url + "/api/me", headers=self.auth(t)) as r:
                assert r.status == 200, await r.text()
        for g in range(0, self.users, self.group_size):
            owner, members = tokens[g], [f"soak_{i:04d}" for i in range(g + 1, g + self.group_size)]
            body = {"name": f"soak {g}", "memberIds": members[: self.users - g - 1]}
            async with self.http.post(
                self.url + "/api/groups", json=body, headers=self.auth(owner)
            ) as r:
                assert r.status == 201, await r.text()
                gid = (await r.json())["group"]["id"]
            for t in tokens[g : g + self.group_size]:
                self.clients.append(Client(t, gid, await self.connect(t)))

    def auth(self, token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def connect(self, token: str) -> socketio.AsyncClient:
        sio = socketio.AsyncClient(reconnection=False)
        ready = asyncio.Event()
        sio.on("user_groups", lambda *_: ready.set())
        await sio.connect(
            self.url, auth={"token": token}, transports=["websocket"], wait_timeout=TIMEOUT
        )
        await asyncio.wait_for(ready.wait(), TIMEOUT)
        return sio

    async def call(self, c: Client, event: str, data: Any) -> dict[str, Any]:
        ack: dict[str, Any] = await c.sio.call(event, data, timeout=TIMEOUT)
        if ack.get("ok") is not True:
            raise RuntimeError(f"{event}: {ack.get('error', {}).get('code')}")
        return ack

    # --- the operations --------------------------------------------------------------

    async def op_send(self, c: Client) -> None:
        ack = await self.call(
            c, "send_message", {"groupId": c.gid, "content": f"soak {time.time()}"}
        )
        c.last_seq = max(c.last_seq, int(ack["message"]["seq"]))

    async def op_typing(self, c: Client) -> None:
        await self.call(c, "typing_start", {"groupId": c.gid})
        await self.call(c, "typing_stop", {"groupId": c.gid})

    async def op_read(self, c: Client) -> None:
        await self.call(c, "mark_messages_read", {"groupId": c.gid, "upToSeq": c.last_seq})

    async def op_sync(self, c: Client) -> None:
        await self.call(c, "sync", {"groupId": c.gid, "afterSeq": max(0, c.last_seq - 20)})

    async def op_history(self, c: Client) -> None:
        path = f"/api/messages/group/{c.gid}?limit=50"
        async with self.http.get(self.url + path, headers=self.auth(c.token)) as r:
            if r.status != 200:
                raise RuntimeError(f"history: {r.status}")
            await r.read()

    async def op_reconnect(self, c: Client) -> None:
        old = c.sio
        c.sio = await self.connect(c.token)
        await old.disconnect()

    async def op_upload(self, c: Client) -> None:
        self.png_seed += 1
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (self.png_seed % 256, 90, 160)).save(buf, "PNG")
        form = aiohttp.FormData()
        form.add_field("groupId", c.gid)
        form.add_field("caption", "soak upload")
        form.add_field("file", buf.getvalue(), filename="soak.png", content_type="image/png")
        url = self.url + "/api/media/chat/send"
        async with self.http.post(url, data=form, headers=self.auth(c.token)) as r:
            if r.status != 201:
                raise RuntimeError(f"upload: {r.status}")
            await r.read()

    async def op_ai(self, c: Client) -> None:
        await self.call(c, "request_smart_replies", {"groupId": c.gid})

    async def timed(self, name: str, c: Client) -> None:
        bucket = self.now
        started = time.monotonic()
        self.inflight += 1
        try:
            await getattr(self, f"op_{name}")(c)
        except Exception as exc:  # every failure is counted; none stops the soak
            bucket.errors[f"{name}: {str(exc)[:80] or type(exc).__name__}"] += 1
        else:
            bucket.latencies.append(time.monotonic() - started)
            bucket.ops[name] += 1
        finally:
            self.inflight -= 1

    async def drive(self, name: str, rate: float, until: float) -> None:
        """Open loop: `rate` operations per second whatever the server's latency."""
        tasks: set[asyncio.Task[None]] = set()
        step = 1.0 / rate
        due = time.monotonic() + random.random() * step
        while due < until:
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            c = random.choice(self.clients)
            if name == "reconnect" and any(t for t in tasks):
                due += step
                continue  # one reconnect at a time, so a client is never used while swapped
            task = asyncio.create_task(self.timed(name, c))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            due += step
        if tasks:
            await asyncio.wait(tasks, timeout=TIMEOUT + 1)

    async def close(self) -> None:
        for c in self.clients:
            if c.sio.connected:
                await c.sio.disconnect()
        await self.http.close()


def p99(values: list[float]) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]


def verdict(samples: list[dict[str, Any]]) -> tuple[int, list[str]]:
    after = samples[1:]  # the first interval is warm-up
    reasons: list[str] = []
    errors = sum(s["errors"] for s in samples)
    if errors:
        reasons.append(f"{errors} errors")
    if len(after) >= 2:
        first, last = after[0]["rss_mb"], after[-1]["rss_mb"]
        if last - first > max(0.10 * first, 25.0):
            reasons.append(f"RSS grew {first:.0f} -> {last:.0f} MB")
        fds = [s["fds"] for s in after]
        if max(fds) - min(fds) > 10:
            reasons.append(f"open fds ranged {min(fds)}..{max(fds)}")
        p99s = [s["p99_ms"] for s in after]
        median = statistics.median(p99s)
        limit = max(2 * median, median + 50)
        worst = max(p99s)
        if worst > limit:
            reasons.append(f"p99 {worst:.0f} ms against a median of {median:.0f} ms")
    code = 2 if errors else (3 if reasons else 0)
    return code, reasons


async def run(args: argparse.Namespace) -> int:
    work = Path(tempfile.mkdtemp(prefix="safechat-soak-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SAFECHAT_LOG_LEVEL": "WARNING",
        "RATE_SEND_PER_SECOND": "100000",
        "RATE_SEND_BURST": "100000",
        "RATE_EVENTS_PER_SECOND": "100000",
        "RATE_EVENTS_BURST": "100000",
        "RATE_REST_PER_MINUTE": "10000000",
        "RATE_AI_PER_MINUTE": "100000",
    }
    exe = args.safechat or str(Path(sys.executable).parent / "safechat")
    log = (work / "serve.log").open("wb")
    command = [exe, "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(  # noqa: ASYNC220, S603 - started once, our own executable
        [*command, "--data-dir", str(work / "data")],
        cwd=work, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    soak: Soak | None = None
    try:
        async with aiohttp.ClientSession() as http:
            deadline = time.monotonic() + 90
            while True:
                try:
                    async with http.get(url + "/health") as r:
                        if r.status == 200 and (await r.json())["status"] == "ok":
                            break
                except aiohttp.ClientError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    print((work / "serve.log").read_text()[-3000:], file=sys.stderr)
                    return 2
                await asyncio.sleep(0.2)
        soak = Soak(url, DevIssuer.load_or_create(work / "data", url), args.users, args.group_size)
        await soak.setup()
        started = time.monotonic()
        until = started + args.seconds
        drivers = [
            asyncio.create_task(soak.drive(n, r * args.scale, until))
            for n, r in RATES.items()
            if n not in args.skip
        ]
        samples: list[dict[str, Any]] = []
        print(f"soak: {args.seconds} s, {args.users} clients, every {args.interval} s")
        while time.monotonic() < until - 0.5:
            await asyncio.sleep(min(args.interval, until - time.monotonic()))
            bucket, soak.now = soak.now, Interval()
            db = sum(proc_rss_mb(c) for c in children(server.pid))
            sample = {
                "t": round(time.monotonic() - started),
                "rss_mb": round(proc_rss_mb(server.pid), 1),
                "db_rss_mb": round(db, 1),
                "fds": len(os.listdir(f"/proc/{server.pid}/fd")),
                "p99_ms": round(p99(bucket.latencies) * 1000, 1),
                "ops": sum(bucket.ops.values()),
                "errors": sum(bucket.errors.values()),
                "error_kinds": dict(bucket.errors.most_common(5)),
                "by_op": dict(bucket.ops),
            }
            samples.append(sample)
            print(
                f"t={sample['t']:>4}s rss={sample['rss_mb']:.0f} MB db={db:.0f} MB "
                f"fds={sample['fds']} p99={sample['p99_ms']:.0f} ms ops={sample['ops']} "
                f"errors={sample['errors']} {sample['error_kinds'] or ''}",
                flush=True,
            )
        await asyncio.gather(*drivers)
        code, reasons = verdict(samples)
        print("SOAK PASS" if code == 0 else f"SOAK FAIL: {'; '.join(reasons)}")
        results = args.results
        results.mkdir(parents=True, exist_ok=True)
        report = {
            "args": {k: str(v) for k, v in vars(args).items()},
            "rates": RATES,
            "samples": samples,
            "verdict": code,
            "reasons": reasons,
        }
        out = results / f"soak-{time.strftime('%Y%m%d-%H%M%S')}.json"
        out.write_text(json.dumps(report, indent=2))
        print(f"report: {out}")
        return code
    finally:
        if soak is not None:
            await soak.close()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", "600"))
    )
    parser.add_argument(
        "--interval", type=float, default=float(os.environ.get("SOAK_INTERVAL", "60"))
    )
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--group-size", type=int, default=10)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every rate")
    parser.add_argument("--skip", nargs="*", default=[], choices=sorted(RATES), help="ops left out")
    parser.add_argument("--results", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--safechat", help="the safechat executable (default: beside this python)")
    return asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    raise SystemExit(main())
