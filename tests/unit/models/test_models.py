"""Inbound wire models: strict types, no unknown fields, the protocol's shapes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from safechat.models.ai import RateSuggestion, SearchBody, SearchQuery, TypingSuggestionsRequest
from safechat.models.common import MAX_SAFE_INT, iso, parse_iso
from safechat.models.group import AddMember, CreateGroup, DiscoverQuery, GroupRef, UpdateGroup
from safechat.models.media import PresignRequest
from safechat.models.message import (
    DeleteMessage,
    EditMessage,
    HistoryQuery,
    MarkMessageRead,
    MarkMessagesRead,
    ReactMessage,
    SendMessage,
    SyncRequest,
)
from safechat.models.user import Reauth, UpdateMe

GID = "65f0a1b2c3d4e5f601234567"
MID = "65f0a1b2c3d4e5f6012345ff"


def invalid(model: type[BaseModel], data: Any) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return info.value


def error_types(err: ValidationError) -> set[str]:
    return {str(e["type"]) for e in err.errors()}


# --- unknown fields and strict types ---------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (SendMessage, {"groupId": GID, "content": "hi", "senderId": "user_evil"}),
        (GroupRef, {"groupId": GID, "userId": "u"}),
        (CreateGroup, {"name": "g", "ownerId": "user_evil"}),
        (UpdateMe, {"email": "spoof@example.test"}),
        (ReactMessage, {"messageId": MID, "emoji": "x", "userId": "u"}),
    ],
)
def test_unknown_fields_are_refused(model: type[BaseModel], data: dict[str, Any]) -> None:
    assert "extra_forbidden" in error_types(invalid(model, data))


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (SyncRequest, {"groupId": GID, "afterSeq": "5"}),
        (SyncRequest, {"groupId": GID, "afterSeq": 5.0}),
        (SyncRequest, {"groupId": GID, "afterSeq": True}),
        (SyncRequest, {"groupId": GID, "afterSeq": 0, "limit": "10"}),
        (MarkMessagesRead, {"groupId": GID, "upToSeq": "3"}),
        (SendMessage, {"groupId": GID, "content": 5}),
        (SendMessage, {"groupId": GID, "content": None}),
        (SendMessage, {"groupId": GID, "content": ["hi"]}),
        (SendMessage, {"groupId": int("1" * 24), "content": "hi"}),
        (EditMessage, {"messageId": MID, "content": {"text": "x"}}),
        (CreateGroup, {"name": "g", "isPrivate": "true"}),
        (CreateGroup, {"name": "g", "isPrivate": 1}),
        (CreateGroup, {"name": 5}),
        (CreateGroup, {"name": "g", "memberIds": "user_b"}),
        (CreateGroup, {"name": "g", "memberIds": [5]}),
        (UpdateMe, {"firstName": 5}),
    ],
)
def test_wrong_types_are_refused(model: type[BaseModel], data: dict[str, Any]) -> None:
    invalid(model, data)


def test_strict_ints_and_strings_are_accepted_as_such() -> None:
    req = SyncRequest.model_validate({"groupId": GID, "afterSeq": 5, "limit": 10})
    assert req.afterSeq == 5
    assert req.limit == 10
    msg = SendMessage.model_validate({"groupId": GID, "content": "5"})
    assert msg.content == "5"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "abc",
        GID[:-1],
        GID + "0",
        "zz" + GID[2:],
        " " + GID[1:],
        GID[:-1] + "\n",
        "../" + GID[3:],
        {"$ne": None},
        None,
    ],
)
def test_ids_must_be_object_ids(value: object) -> None:
    invalid(GroupRef, {"groupId": value})
    invalid(DeleteMessage, {"messageId": value})
    invalid(MarkMessageRead, {"messageId": MID, "groupId": value})


def test_object_ids_are_normalised_to_lowercase() -> None:
    assert GroupRef.model_validate({"groupId": GID.upper()}).groupId == GID


def test_inbound_models_are_frozen() -> None:
    ref = GroupRef.model_validate({"groupId": GID})
    with pytest.raises(ValidationError):
        ref.groupId = MID  # type: ignore[misc]


# --- send_message ---------------------------------------------------------------------------


def test_send_message_defaults() -> None:
    msg = SendMessage.model_validate({"groupId": GID})
    assert msg.content == ""
    assert msg.type == "text"
    assert msg.tempId is None
    assert msg.replyTo is None


@pytest.mark.parametrize("kind", ["text", "image", "file"])
def test_send_message_types(kind: str) -> None:
    assert SendMessage.model_validate({"groupId": GID, "type": kind}).type == kind


@pytest.mark.parametrize("kind", ["system", "SYSTEM", "Text", "video", ""])
def test_send_message_refuses_other_types(kind: str) -> None:
    invalid(SendMessage, {"groupId": GID, "content": "hi", "type": kind})


def test_send_message_temp_id_and_reply() -> None:
    msg = SendMessage.model_validate(
        {"groupId": GID, "content": "x", "tempId": "t-1", "replyTo": MID, "mediaId": MID}
    )
    assert (msg.tempId, msg.replyTo, msg.mediaId) == ("t-1", MID, MID)
    invalid(SendMessage, {"groupId": GID, "tempId": ""})
    invalid(SendMessage, {"groupId": GID, "tempId": "t" * 129})
    invalid(SendMessage, {"groupId": GID, "replyTo": "nope"})


# --- mark_messages_read ---------------------------------------------------------------------


def test_mark_messages_read_forms() -> None:
    by_ids = MarkMessagesRead.model_validate({"groupId": GID, "messageIds": [MID]})
    assert by_ids.messageIds == [MID]
    assert by_ids.upToSeq is None
    by_seq = MarkMessagesRead.model_validate({"groupId": GID, "upToSeq": 0})
    assert by_seq.upToSeq == 0


@pytest.mark.parametrize(
    "data",
    [
        {"groupId": GID},
        {"groupId": GID, "messageIds": [MID], "upToSeq": 3},
        {"groupId": GID, "messageIds": []},
        {"groupId": GID, "messageIds": [MID] * 101},
        {"groupId": GID, "messageIds": ["nope"]},
        {"groupId": GID, "upToSeq": -1},
        {"groupId": GID, "messageIds": None, "upToSeq": None},
    ],
)
def test_mark_messages_read_invalid(data: dict[str, Any]) -> None:
    invalid(MarkMessagesRead, data)


def test_mark_messages_read_accepts_100_ids() -> None:
    ids = [f"{i:024x}" for i in range(100)]
    assert (
        len(MarkMessagesRead.model_validate({"groupId": GID, "messageIds": ids}).messageIds or [])
        == 100
    )


# --- sync -----------------------------------------------------------------------------------


def test_sync_single_group_form() -> None:
    req = SyncRequest.model_validate({"groupId": GID, "afterSeq": 7})
    assert req.targets() == {GID: 7}
    assert req.limit == 100


def test_sync_many_groups_form() -> None:
    req = SyncRequest.model_validate({"groups": {GID: 3, MID.upper(): 0}, "limit": 200})
    assert req.targets() == {GID: 3, MID: 0}
    assert req.limit == 200


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"groupId": GID},
        {"afterSeq": 3},
        {"groupId": GID, "afterSeq": 3, "groups": {MID: 1}},
        {"groups": {MID: 1}, "afterSeq": 2},
        {"groups": {}},
        {"groups": {"nope": 1}},
        {"groups": {MID: -1}},
        {"groups": {f"{i:024x}": 0 for i in range(101)}},
        {"groupId": GID, "afterSeq": -1},
        {"groupId": GID, "afterSeq": 0, "limit": 0},
        {"groupId": GID, "afterSeq": 0, "limit": 201},
    ],
)
def test_sync_invalid(data: dict[str, Any]) -> None:
    invalid(SyncRequest, data)


# --- history query (REST query string: lax) --------------------------------------------------


def test_history_query_defaults_and_text_values() -> None:
    assert HistoryQuery.model_validate({}).limit == 50
    q = HistoryQuery.model_validate({"limit": "20", "beforeSeq": "9"})
    assert (q.limit, q.beforeSeq) == (20, 9)


@pytest.mark.parametrize("limit", ["1", "100", 1, 100])
def test_history_limit_bounds_ok(limit: object) -> None:
    assert HistoryQuery.model_validate({"limit": limit}).limit == int(str(limit))


@pytest.mark.parametrize("limit", ["0", "101", "-5", "abc", ""])
def test_history_limit_bounds_refused(limit: str) -> None:
    invalid(HistoryQuery, {"limit": limit})


@pytest.mark.parametrize(
    "cursor", [{"before": MID}, {"after": MID}, {"beforeSeq": "4"}, {"afterSeq": "0"}]
)
def test_history_one_cursor(cursor: dict[str, str]) -> None:
    HistoryQuery.model_validate(cursor)


@pytest.mark.parametrize(
    "cursors",
    [
        {"before": MID, "after": MID},
        {"before": MID, "beforeSeq": "3"},
        {"afterSeq": "1", "beforeSeq": "3"},
        {"after": MID, "afterSeq": "3"},
    ],
)
def test_history_more_than_one_cursor(cursors: dict[str, str]) -> None:
    invalid(HistoryQuery, cursors)


def test_history_query_refuses_unknown_and_bad_cursor() -> None:
    invalid(HistoryQuery, {"sort": "desc"})
    invalid(HistoryQuery, {"before": "not-an-id"})
    invalid(HistoryQuery, {"afterSeq": "-1"})


# --- reactions ------------------------------------------------------------------------------


@pytest.mark.parametrize("emoji", ["👍", "❤️", "❤", "👨‍👩‍👧", "👍🏽", "🇫🇷", "1️⃣", "#️⃣", "©"])
def test_reaction_emoji_ok(emoji: str) -> None:
    assert ReactMessage.model_validate({"messageId": MID, "emoji": emoji}).emoji == emoji


@pytest.mark.parametrize(
    "emoji",
    [
        *("a.b", ".", "$set", "$", "", " ", "x" * 33, 5, "a$", "+1", "party_parrot"),
        *("__proto__", "constructor", "\x00", "👍\x00", "\ud800", "👍👍", " 👍"),
        *("\u200d", "\ufe0f", "\u202e👍"),
    ],
)
def test_reaction_emoji_refused(emoji: object) -> None:
    """Exactly one emoji: never a word, a Mongo path/operator, a control or joiner alone."""
    invalid(ReactMessage, {"messageId": MID, "emoji": emoji})


# --- groups and profile ---------------------------------------------------------------------


def test_create_group_bounds() -> None:
    g = CreateGroup.model_validate({"name": "team", "memberIds": ["user_b"]})
    assert (g.name, g.isPrivate, g.memberIds) == ("team", False, ["user_b"])
    invalid(CreateGroup, {"name": ""})
    invalid(CreateGroup, {"name": "x" * 101})
    invalid(CreateGroup, {"name": "g", "description": "d" * 1001})
    invalid(CreateGroup, {"name": "g", "memberIds": [""]})
    invalid(CreateGroup, {})


def test_update_group_and_add_member() -> None:
    assert UpdateGroup.model_validate({}).name is None
    assert AddMember.model_validate({"userId": "u"}).role == "member"
    invalid(AddMember, {"userId": "u", "role": "owner"})


@pytest.mark.parametrize("username", ["ab", "a" * 31, "bad name", "bad.name", "ümlaut"])
def test_update_me_username_refused(username: str) -> None:
    invalid(UpdateMe, {"username": username})


def test_update_me_username_ok() -> None:
    assert UpdateMe.model_validate({"username": "Ada_L-1"}).username == "Ada_L-1"


# --- timestamps -----------------------------------------------------------------------------


def test_iso_format() -> None:
    value = datetime(2024, 3, 5, 7, 8, 9, 123456, tzinfo=UTC)
    assert iso(value) == "2024-03-05T07:08:09.123Z"
    assert iso(datetime(2024, 3, 5, 7, 8, 9, tzinfo=UTC)) == "2024-03-05T07:08:09.000Z"
    assert iso(None) is None


def test_iso_treats_naive_as_utc_and_converts_offsets() -> None:
    assert iso(datetime(2024, 1, 1, 12, 0, 0, 999999)) == "2024-01-01T12:00:00.999Z"
    plus2 = timezone(timedelta(hours=2))
    assert iso(datetime(2024, 1, 1, 1, 30, tzinfo=plus2)) == "2023-12-31T23:30:00.000Z"


def test_parse_iso_round_trip() -> None:
    value = datetime(2024, 3, 5, 7, 8, 9, 123000, tzinfo=UTC)
    assert parse_iso(iso(value) or "") == value
    assert parse_iso("2024-03-05T07:08:09").tzinfo is not None


# --- values that JSON carries but BSON and UTF-8 cannot ---------------------------------------

LONE_SURROGATE = "\ud800"


@pytest.mark.parametrize("bad", [LONE_SURROGATE, "ok\udfff", "a\x00b"], ids=["hi", "lo", "nul"])
@pytest.mark.parametrize(
    ("model", "data"),
    [
        (SendMessage, {"groupId": GID, "content": "{bad}"}),
        (SendMessage, {"groupId": GID, "content": "x", "tempId": "{bad}"}),
        (EditMessage, {"messageId": MID, "content": "{bad}"}),
        (CreateGroup, {"name": "{bad}"}),
        (CreateGroup, {"name": "g", "memberIds": ["u", "{bad}"]}),
        (UpdateGroup, {"description": "{bad}"}),
        (AddMember, {"userId": "{bad}"}),
        (UpdateMe, {"firstName": "{bad}"}),
        (SearchBody, {"groupId": GID, "query": "{bad}"}),
        (TypingSuggestionsRequest, {"groupId": GID, "partialText": "{bad}"}),
        (RateSuggestion, {"requestId": "r", "rating": "positive", "feedback": "{bad}"}),
        (Reauth, {"token": "{bad}"}),
        (DiscoverQuery, {"q": "{bad}"}),
        (SearchQuery, {"q": "{bad}"}),
    ],
)
def test_text_that_cannot_be_stored_is_refused(
    model: type[BaseModel], data: dict[str, Any], bad: str
) -> None:
    filled = {k: (v.replace("{bad}", bad) if isinstance(v, str) else v) for k, v in data.items()}
    filled = {
        k: [x.replace("{bad}", bad) for x in v] if isinstance(v, list) else v
        for k, v in filled.items()
    }
    invalid(model, filled)


def test_every_inbound_model_checks_its_values() -> None:
    """The check lives in the two bases, so a model added later cannot miss it."""
    from safechat.models import ai, group, media, message, presence, user
    from safechat.models.common import Inbound, Query, _Storable

    models = [
        obj
        for module in (ai, group, media, message, presence, user)
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, BaseModel) and obj not in (Inbound, Query)
    ]
    assert len(models) > 20
    assert all(issubclass(m, _Storable) for m in models)


@pytest.mark.parametrize("seq", [MAX_SAFE_INT + 1, 2**63, 10**20, -(2**63)])
def test_integers_beyond_the_safe_range_are_refused(seq: int) -> None:
    invalid(SyncRequest, {"groupId": GID, "afterSeq": seq})
    invalid(SyncRequest, {"groups": {GID: seq}})
    invalid(MarkMessagesRead, {"groupId": GID, "upToSeq": seq})
    invalid(HistoryQuery, {"beforeSeq": str(seq)})
    invalid(HistoryQuery, {"afterSeq": str(seq)})
    invalid(PresignRequest, {"groupId": GID, "filename": "a", "mimeType": "a/b", "size": seq})


def test_the_largest_safe_integer_is_accepted() -> None:
    assert SyncRequest.model_validate({"groups": {GID: MAX_SAFE_INT}}).targets() == {
        GID: MAX_SAFE_INT
    }
    assert HistoryQuery.model_validate({"beforeSeq": str(MAX_SAFE_INT)}).beforeSeq == MAX_SAFE_INT
    assert SendMessage.model_validate({"groupId": GID, "content": "héllo 👍"}).content == "héllo 👍"
