"""kill -9 of one of two nodes (Redis, one database) under steady load.

Clients of the killed node move to the survivor and resend what was never acknowledged
with the same tempId, as a client's outbox does: nothing acknowledged is lost, nothing
is stored twice, and the survivor's own clients are served throughout.
"""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

from tests.helpers.load import Sender, check_nothing_lost_or_doubled, history
from tests.multinode.test_two_nodes import start_cluster


async def test_kill_9_of_a_node_under_load(
    mongo_uri: str, safechat_bin: str, tmp_path: Path
) -> None:
    async with start_cluster(mongo_uri, safechat_bin, tmp_path) as c:
        alice = await c.user(c.a, "user_alice")
        bob = await c.user(c.a, "user_bob")
        carol = await c.user(c.b, "user_carol")
        gid = await c.group(c.a, alice, "crash", ["user_bob", "user_carol"])
        on_a = [await c.client(c.a, alice), await c.client(c.a, bob)]
        on_b = [await c.client(c.b, alice), await c.client(c.b, carol)]
        # Back to back on node B, so sends are in flight when it dies.
        survivors = [Sender(x, gid, ack_timeout=3) for x in on_a]
        victims = [Sender(x, gid, interval=0, ack_timeout=3) for x in on_b for _ in range(2)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(s.run(stop)) for s in survivors + victims]
        await asyncio.sleep(1.5)
        before = {id(s): len(s.acked) for s in survivors}
        assert all(s.acked for s in victims)

        await c.b.stop(signal.SIGKILL)
        await asyncio.gather(*tasks[len(survivors) :])  # node B's senders see the loss
        await asyncio.sleep(1.5)  # node A keeps serving meanwhile
        stop.set()
        await asyncio.gather(*tasks[: len(survivors)])

        for s in survivors:
            assert not s.codes, s.codes
            assert len(s.acked) > before[id(s)] + 5
        for s in victims:
            assert set(s.codes) <= {"DISCONNECTED", "ACK_TIMEOUT"}, s.codes
        # Node B's clients reconnect to node A and resend with the same tempIds.
        moved = {id(x): await c.client(c.a, x.token) for x in on_b}
        for s in victims:
            await s.retry(moved[id(s.client)])
        messages = await history(on_a[0], gid)
        checked = check_nothing_lost_or_doubled(messages, survivors + victims)
        assert checked == sum(len(s.acked) for s in survivors + victims)
        # Everyone still talks through node A.
        bob_client = on_a[1]
        bob_client.drain("new_message")
        ack = await moved[id(on_b[1])].call("send_message", {"groupId": gid, "content": "after"})
        assert ack["ok"] is True
        got = await bob_client.wait_for("new_message")
        assert got["message"]["content"] == "after"
        print(  # the numbers behind the README fault section (pytest -s)
            f"acked {checked}, retried {sum(s.duplicates for s in victims)} found stored, "
            f"seqs {messages[-1]['seq']} for {len(messages)} stored"
        )
