"""The embedded database alone: the send path's write mix over one connection or several.

    .venv/bin/python bench/db_concurrency.py [--seconds 8] [--pools 1,2,10]

Starts its own SecantusDB (`secantusd-py`) on a temporary data dir, creates SafeChat's
indexes, then for each pool size runs, for `--seconds` each: message inserts alone (one
inserter, 5 per durable `insert_many`, as under load), then with the read marks' upserts
(100 per second) beside them, then with the vectors' inserts too (120 per second in
commands of 60). Prints messages/s, the database's CPU and its CPU per message. What
docs/performance.md ("One write at a time") reports was measured with it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bson import Binary, ObjectId
from pymongo import MongoClient, UpdateOne, WriteConcern

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
from safechat.repositories.db import INDEXES  # noqa: E402

Doc = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().split(")")[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


class Workload:
    def __init__(self, client: MongoClient[Doc]) -> None:
        self.db = client.bench
        for name in ("messages", "read_state", "message_embeddings"):
            self.db[name].create_indexes(INDEXES[name])
        self.messages = self.db.messages.with_options(write_concern=WriteConcern(w="majority", j=True))
        self.groups = [ObjectId() for _ in range(10)]
        self.seqs = [0] * 10
        self.count = 0

    def message(self) -> Doc:
        i, k = self.count, self.count % 10
        self.count += 1
        self.seqs[k] += 1
        at = now()
        return {
            "_id": ObjectId(),
            "groupId": self.groups[k],
            "seq": self.seqs[k],
            "senderId": f"user_{i % 100}",
            "clientMessageId": f"t{i}",
            "type": "text",
            "content": {"ct": os.urandom(120), "iv": os.urandom(12)},
            "readBy": [],
            "reactions": {},
            "isDeleted": False,
            "createdAt": at,
            "updatedAt": at,
        }

    def marks(self, stop: threading.Event) -> None:
        seq = 0
        while not stop.is_set():
            seq += 1
            ops = [
                UpdateOne(
                    {"groupId": self.groups[i % 10], "userId": f"user_{i}"},
                    {"$max": {"lastReadSeq": seq}, "$set": {"updatedAt": now()}},
                    upsert=True,
                )
                for i in range(100)
            ]
            self.db.read_state.bulk_write(ops, ordered=False)
            stop.wait(1.0)

    def vectors(self, stop: threading.Event) -> None:
        while not stop.is_set():
            docs = [
                {
                    "groupId": self.groups[i % 10],
                    "messageId": ObjectId(),
                    "senderId": f"user_{i}",
                    "model": "offline-hash-256-v2",
                    "vector": Binary(os.urandom(1024)),
                    "updatedAt": now(),
                }
                for i in range(60)
            ]
            self.db.message_embeddings.insert_many(docs, ordered=False)
            stop.wait(0.5)


def phase(
    label: str, work: Workload, pid: int, seconds: float, beside: list[Callable[..., None]]
) -> None:
    stop = threading.Event()
    threads = [threading.Thread(target=f, args=(stop,)) for f in beside]
    for t in threads:
        t.start()
    cpu0, start, sent = cpu_seconds(pid), time.monotonic(), 0
    while time.monotonic() - start < seconds:
        work.messages.insert_many([work.message() for _ in range(5)], ordered=False)
        sent += 5
    elapsed, cpu = time.monotonic() - start, cpu_seconds(pid) - cpu0
    stop.set()
    for t in threads:
        t.join()
    print(
        f"  {label:34s} {sent / elapsed:6.0f} msgs/s, database {100 * cpu / elapsed:4.0f} % CPU,"
        f" {1000 * cpu / sent:5.2f} ms CPU/msg",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--pools", default="1,10", help="connection pool sizes to compare")
    args = parser.parse_args()
    exe = ROOT / ".venv" / "bin" / "secantusd-py"
    for pool in (int(p) for p in args.pools.split(",")):
        port = free_port()
        with tempfile.TemporaryDirectory() as data:
            proc = subprocess.Popen(
                [str(exe), "--storage-path", data, "--host", "127.0.0.1", "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            client: MongoClient[Doc] = MongoClient(
                f"mongodb://127.0.0.1:{port}/?directConnection=true",
                retryWrites=False,
                maxPoolSize=pool,
                serverSelectionTimeoutMS=30000,
            )
            try:
                client.admin.command("ping")
                work = Workload(client)
                print(f"maxPoolSize={pool}")
                phase("message inserts alone", work, proc.pid, args.seconds, [])
                phase("+ read marks", work, proc.pid, args.seconds, [work.marks])
                phase("+ read marks + vectors", work, proc.pid, args.seconds, [work.marks, work.vectors])
            finally:
                client.close()
                proc.terminate()
                proc.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
