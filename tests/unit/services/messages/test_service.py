"""MessageService over fakes: send, edit, delete, react, reads, history and sync, and what
each announces (to whom, and only after its write)."""

from __future__ import annotations

from typing import Any

import pytest
from bson import ObjectId

from safechat.errors import ChatError, ErrorCode
from safechat.models.common import iso
from safechat.models.group import Group
from safechat.models.message import HistoryQuery, MarkMessagesRead, SendMessage
from safechat.services.messages.service import MessageService
from tests.unit.services.conftest import World


class Chat:
    """Alice (owner), Bob (member), Carol (admin) in one group; Eve outside it."""

    def __init__(self, world: World, **options: Any) -> None:
        self.w = world
        for uid, name in [("alice", "Alice"), ("bob", "Bob"), ("carol", "Carol"), ("eve", "Eve")]:
            world.user_repo.seed(uid, firstName=name)
        self.group: Group = world.group_repo.seed("alice", "bob", admins=["carol"])
        self.gid = self.group.gid
        self.service: MessageService = world.message_service(**options)

    async def send(self, user: str, content: str = "hello", **body: Any) -> dict[str, Any]:
        payload = SendMessage.model_validate({"groupId": self.gid, "content": content, **body})
        result = await self.service.send(user, payload, origin_sid=f"sid-{user}")
        assert result.duplicate is False
        return result.message


async def refused(call: Any) -> ErrorCode:
    with pytest.raises(ChatError) as info:
        await call
    return info.value.code


@pytest.fixture
def chat(world: World) -> Chat:
    return Chat(world)


# --- send ---------------------------------------------------------------------------------


async def test_send_stores_encrypted_and_announces_to_the_others(chat: Chat) -> None:
    own = await chat.send("alice", "  hello there  ", tempId="t-1")
    assert own["content"] == "hello there"
    assert own["tempId"] == "t-1"
    assert own["seq"] == 1
    assert own["createdAt"] == iso(chat.w.clock.now())
    (stored,) = chat.w.message_repo.in_group(chat.group.id)
    assert "hello there" not in repr(stored.content)  # encryption at rest
    assert chat.w.encryptor.decrypt(stored.content, chat.gid) == "hello there"
    sent, echo = chat.w.notifier.sent
    assert (sent.to, sent.target, sent.event, sent.skip_sid) == (
        "group",
        chat.gid,
        "new_message",
        "sid-alice",
    )
    assert sent.data["message"]["id"] == own["id"]
    assert "tempId" not in sent.data["message"]  # the sender's own id stays the sender's
    assert sent.data["sender"] == {"userId": "alice", "firstName": "Alice"}
    # The sending socket gets its own copy (with its tempId) as message_sent.
    assert (echo.to, echo.target, echo.event) == ("socket", "sid-alice", "message_sent")
    assert echo.data == {"message": own, "tempId": "t-1"}


async def test_new_message_leaves_only_after_the_message_is_stored(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    chat = Chat(world)
    seen: list[bool] = []
    record = world.notifier.to_group

    async def checking(group_id: str, event: str, data: Any, **kw: Any) -> None:
        ids = {str(m.id) for m in world.message_repo.docs.values()}
        seen.append(data["message"]["id"] in ids)
        await record(group_id, event, data, **kw)

    monkeypatch.setattr(world.notifier, "to_group", checking)
    await chat.send("alice")
    await chat.send("bob")
    assert seen == [True, True]


async def test_a_retried_tempid_gives_the_same_message_and_no_second_event(chat: Chat) -> None:
    first = await chat.send("alice", "hi", tempId="t-1")
    again = await chat.service.send(
        "alice", SendMessage.model_validate({"groupId": chat.gid, "content": "hi", "tempId": "t-1"})
    )
    assert again.duplicate is True
    assert again.message["id"] == first["id"]
    assert again.message["tempId"] == "t-1"
    assert again.message["content"] == "hi"
    # The room hears of it once; the sender gets its copy back each time.
    assert chat.w.notifier.names() == ["new_message", "message_sent", "message_sent"]


async def test_a_tempid_reused_for_another_group_is_refused(chat: Chat) -> None:
    await chat.send("alice", "hi", tempId="t-1")
    other = chat.w.group_repo.seed("alice", name="other")
    body = SendMessage.model_validate({"groupId": other.gid, "content": "x", "tempId": "t-1"})
    assert await refused(chat.service.send("alice", body)) is ErrorCode.VALIDATION_ERROR


async def test_send_refusals_write_and_announce_nothing(world: World) -> None:
    chat = Chat(world, max_chars=10)
    gid = chat.gid
    cases = [
        ("eve", {"content": "hi"}, ErrorCode.ACCESS_DENIED),
        ("alice", {"content": "   "}, ErrorCode.VALIDATION_ERROR),
        ("alice", {"content": "x" * 11}, ErrorCode.MESSAGE_TOO_LONG),
        ("alice", {"content": "hi", "mediaId": "a" * 24}, ErrorCode.VALIDATION_ERROR),
        ("alice", {"type": "image", "content": ""}, ErrorCode.VALIDATION_ERROR),
        ("alice", {"type": "image", "mediaId": "a" * 24}, ErrorCode.VALIDATION_ERROR),
        ("alice", {"content": "hi", "replyTo": "b" * 24}, ErrorCode.MESSAGE_NOT_FOUND),
        ("eve", {"content": "hi", "replyTo": "b" * 24}, ErrorCode.ACCESS_DENIED),
    ]
    for user, body, expected in cases:
        payload = SendMessage.model_validate({"groupId": gid, **body})
        assert await refused(chat.service.send(user, payload)) is expected, body
    with pytest.raises(ChatError) as info:
        await chat.service.send(
            "alice", SendMessage.model_validate({"groupId": gid, "content": "x" * 11})
        )
    assert info.value.details == {"maxLength": 10, "length": 11}
    assert chat.w.message_repo.docs == {}
    assert chat.w.notifier.sent == []


async def test_a_reply_names_a_message_of_the_same_group(chat: Chat) -> None:
    first = await chat.send("alice", "question?")
    reply = await chat.send("bob", "answer", replyTo=first["id"])
    assert reply["replyTo"] == first["id"]
    other = chat.w.group_repo.seed("bob", name="other")
    body = SendMessage.model_validate(
        {"groupId": other.gid, "content": "x", "replyTo": first["id"]}
    )
    assert await refused(chat.service.send("bob", body)) is ErrorCode.MESSAGE_NOT_FOUND


# --- edit, delete -------------------------------------------------------------------------


async def test_edit_keeps_the_previous_text_in_history_and_announces_it(chat: Chat) -> None:
    sent = await chat.send("alice", "first")
    chat.w.clock.advance(90)
    chat.w.notifier.clear()
    edited = await chat.service.edit("alice", sent["id"], "second")
    assert edited["content"] == "second"
    assert edited["editedAt"] == iso(chat.w.clock.now())
    (event,) = chat.w.notifier.events("message_edited")
    assert event.target == chat.gid
    assert event.data == {"message": edited}
    history = await chat.service.history_of("bob", sent["id"])
    assert history == [{"content": "first", "editedAt": sent["createdAt"]}]


async def test_only_the_sender_edits_and_non_members_learn_nothing(chat: Chat) -> None:
    sent = await chat.send("alice", "first")
    assert await refused(chat.service.edit("bob", sent["id"], "x")) is ErrorCode.ACCESS_DENIED
    # Not ACCESS_DENIED: a message id must not tell outsiders that a group exists.
    assert await refused(chat.service.edit("eve", sent["id"], "x")) is ErrorCode.MESSAGE_NOT_FOUND
    await chat.service.delete("alice", sent["id"])
    assert await refused(chat.service.edit("alice", sent["id"], "x")) is ErrorCode.MESSAGE_NOT_FOUND


async def test_delete_wipes_the_content_and_announces_it(chat: Chat) -> None:
    sent = await chat.send("bob", "oops")
    await chat.service.edit("bob", sent["id"], "oops, edited")
    chat.w.notifier.clear()
    event = await chat.service.delete("bob", sent["id"], chat.gid)
    assert event == {"messageId": sent["id"], "groupId": chat.gid, "deletedBy": "bob"}
    assert chat.w.notifier.events("message_deleted")[0].data == event
    (stored,) = chat.w.message_repo.in_group(chat.group.id)
    assert (stored.is_deleted, stored.content, stored.edit_history) == (True, "", [])
    assert stored.deleted_at == chat.w.clock.now()
    assert await refused(chat.service.delete("bob", sent["id"])) is ErrorCode.MESSAGE_NOT_FOUND


async def test_admins_delete_others_messages_members_do_not(chat: Chat) -> None:
    by_alice = await chat.send("alice", "owner's")
    by_bob = await chat.send("bob", "bob's")
    assert await refused(chat.service.delete("bob", by_alice["id"])) is ErrorCode.ACCESS_DENIED
    assert (await chat.service.delete("carol", by_bob["id"]))["deletedBy"] == "carol"
    other = chat.w.group_repo.seed("alice", "bob", name="other")
    wrong_group = chat.service.delete("alice", by_alice["id"], other.gid)
    assert await refused(wrong_group) is ErrorCode.MESSAGE_NOT_FOUND


# --- reactions ----------------------------------------------------------------------------


async def test_react_toggles_and_announces_each_change(chat: Chat) -> None:
    sent = await chat.send("alice")
    chat.w.notifier.clear()
    added = await chat.service.react("bob", sent["id"], "👍")
    assert (added["action"], added["reactions"]) == ("added", {"👍": ["bob"]})
    removed = await chat.service.react("bob", sent["id"], "👍")
    assert (removed["action"], removed["reactions"]) == ("removed", {})
    assert [s.data["action"] for s in chat.w.notifier.events("message_reaction")] == [
        "added",
        "removed",
    ]


async def test_reactions_are_capped_per_message(world: World) -> None:
    chat = Chat(world, max_reactions=2)
    sent = await chat.send("alice")
    await chat.service.react("bob", sent["id"], "👍")
    await chat.service.react("bob", sent["id"], "🎉")
    with pytest.raises(ChatError) as info:
        await chat.service.react("bob", sent["id"], "😀")
    assert info.value.code is ErrorCode.CONFLICT
    assert info.value.details == {"maxReactions": 2}
    # Joining an existing reaction is not a new key.
    assert (await chat.service.react("carol", sent["id"], "👍"))["action"] == "added"
    await chat.service.delete("alice", sent["id"])
    assert await refused(chat.service.react("bob", sent["id"], "👍")) is ErrorCode.MESSAGE_NOT_FOUND


# --- reads --------------------------------------------------------------------------------


async def test_mark_read_is_announced_once_and_moves_the_read_mark(chat: Chat) -> None:
    sent = await chat.send("alice")
    chat.w.notifier.clear()
    chat.w.clock.advance(5)
    first = await chat.service.mark_read("bob", sent["id"], chat.gid)
    assert first["newlyRead"] is True
    assert first["readAt"] == iso(chat.w.clock.now())
    again = await chat.service.mark_read("bob", sent["id"], chat.gid)
    assert again["newlyRead"] is False
    assert chat.w.notifier.names() == ["message_read"]
    assert chat.w.read_state.marks[(chat.group.id, "bob")] == 1
    # One's own message is never "newly read" by oneself.
    assert (await chat.service.mark_read("alice", sent["id"], chat.gid))["newlyRead"] is False


async def test_mark_many_read_up_to_a_seq(chat: Chat) -> None:
    sent = [await chat.send("alice", str(i)) for i in range(4)]
    await chat.send("bob", "mine")
    chat.w.notifier.clear()
    body = MarkMessagesRead.model_validate({"groupId": chat.gid, "upToSeq": 99})
    result = await chat.service.mark_many_read("bob", body)
    assert result["lastReadSeq"] == 5  # capped at the group's last seq
    assert result["messageIds"] == [m["id"] for m in sent]
    (event,) = chat.w.notifier.events("messages_read")
    assert event.data["messageIds"] == result["messageIds"]
    assert chat.w.read_state.marks[(chat.group.id, "bob")] == 5


async def test_mark_many_read_up_to_looks_only_after_the_last_complete_pass(
    chat: Chat,
) -> None:
    sent = [await chat.send("alice", str(i)) for i in range(4)]  # seqs 1..4
    repo = chat.w.message_repo
    late = repo.docs.pop(ObjectId(sent[2]["id"]))  # seq 3: reserved, still being written
    body = MarkMessagesRead.model_validate({"groupId": chat.gid, "upToSeq": 99})
    first = await chat.service.mark_many_read("bob", body)
    assert first["messageIds"] == [sent[0]["id"], sent[1]["id"], sent[3]["id"]]
    assert chat.w.read_state.read_by[(chat.group.id, "bob")] == 2  # not past the gap
    repo.docs[late.id] = late
    fifth = await chat.send("alice", "5")
    second = await chat.service.mark_many_read("bob", body)
    assert second["messageIds"] == [sent[2]["id"], fifth["id"]]  # the late one too
    assert ("unread_between", (chat.group.id, "bob", 2, 5)) in repo.calls
    assert chat.w.read_state.read_by[(chat.group.id, "bob")] == 5
    assert second["lastReadSeq"] == 5


async def test_mark_many_read_by_ids(chat: Chat) -> None:
    sent = [await chat.send("alice", str(i)) for i in range(3)]
    body = MarkMessagesRead.model_validate(
        {"groupId": chat.gid, "messageIds": [sent[2]["id"], sent[0]["id"]]}
    )
    result = await chat.service.mark_many_read("carol", body)
    assert result["messageIds"] == [sent[0]["id"], sent[2]["id"]]  # in seq order
    assert result["lastReadSeq"] == 3
    again = await chat.service.mark_many_read("carol", body)
    assert again["messageIds"] == []
    assert again["lastReadSeq"] == 3
    assert len(chat.w.notifier.events("messages_read")) == 1


# --- history and sync ---------------------------------------------------------------------


async def test_history_pages_backwards_with_a_cursor(chat: Chat) -> None:
    sent = [await chat.send("alice", str(i)) for i in range(5)]
    page = await chat.service.history("bob", chat.gid, HistoryQuery(limit=2))
    assert [m["content"] for m in page["messages"]] == ["3", "4"]
    assert page["hasMore"] is True
    assert page["nextCursor"] == sent[3]["id"]
    older = await chat.service.history(
        "bob", chat.gid, HistoryQuery(limit=2, before=page["nextCursor"])
    )
    assert [m["content"] for m in older["messages"]] == ["1", "2"]
    assert await refused(chat.service.history("eve", chat.gid, HistoryQuery())) is (
        ErrorCode.ACCESS_DENIED
    )


async def test_sync_returns_what_came_after_and_what_changed_before(chat: Chat) -> None:
    first = await chat.send("alice", "one")
    await chat.send("alice", "two")
    chat.w.clock.advance(30)
    await chat.send("bob", "three")
    await chat.service.edit("alice", first["id"], "one, edited")
    result = (await chat.service.sync("carol", {chat.gid: 2}, limit=10))[chat.gid]
    assert [m["content"] for m in result["messages"]] == ["three"]
    assert [m["content"] for m in result["updated"]] == ["one, edited"]
    assert (result["hasMore"], result["lastSeq"]) == (False, 3)
