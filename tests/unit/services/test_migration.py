"""The migration's pure rules: bucket URLs to keys, owners, read marks, user references."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId

from safechat.models.media import media_wire
from safechat.services.migration.media import Bucket
from safechat.services.migration.reads import ReadMarks
from safechat.services.migration.records import Invalid, UserIds, group_plan, user_doc

T0 = datetime(2025, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("https://chat-media.s3.amazonaws.com/uploads/a%20b.jpg", "uploads/a b.jpg"),
        ("https://chat-media.s3.eu-west-1.amazonaws.com/uploads/x.png", "uploads/x.png"),
        ("https://s3.eu-west-1.amazonaws.com/chat-media/uploads/x.png", "uploads/x.png"),
        ("https://s3-eu-west-1.amazonaws.com/chat-media/f/y.pdf", "f/y.pdf"),
        ("s3://chat-media/uploads/z", "uploads/z"),
        ("http://minio.local:9000/chat-media/uploads/z", "uploads/z"),
        ("https://other.s3.amazonaws.com/uploads/x.png", None),
        ("https://chat-media.s3.amazonaws.com.evil.example/uploads/x.png", None),
        ("https://cdn.example.com/chat-media/uploads/x.png", None),
        ("https://chat-media.s3.amazonaws.com/", None),
    ],
)
def test_bucket_urls_become_keys(url: str, key: str | None) -> None:
    bucket = Bucket("chat-media", endpoint_url="http://minio.local:9000")
    assert bucket.key_of(url) == key


def test_a_prefix_must_match_and_is_taken_off() -> None:
    bucket = Bucket("chat-media", prefix="prod/")
    assert bucket.key_of("https://chat-media.s3.amazonaws.com/prod/a.jpg") == "a.jpg"
    assert bucket.key_of("https://chat-media.s3.amazonaws.com/dev/a.jpg") is None
    assert Bucket(None).key_of("https://chat-media.s3.amazonaws.com/a.jpg") is None


def test_external_media_keep_their_url() -> None:
    wire = media_wire(
        {
            "externalUrl": "https://cdn/x.jpg",
            "externalThumbnailUrl": "https://cdn/t.jpg",
            "kind": "image",
            "filename": "x.jpg",
        },
        "https://chat.example",
    )
    assert wire == {
        "kind": "image",
        "filename": "x.jpg",
        "url": "https://cdn/x.jpg",
        "thumbnailUrl": "https://cdn/t.jpg",
        "external": True,
    }


def _member(user: object, role: str, minutes: int) -> dict[str, object]:
    return {"userId": user, "role": role, "joinedAt": T0 + timedelta(minutes=minutes)}


def test_owner_is_the_creator_else_earliest_admin_else_earliest_member() -> None:
    ids = UserIds()
    base = {"_id": ObjectId(), "name": "g", "createdAt": T0}
    plan = group_plan(
        {
            **base,
            "createdBy": "u1",
            "members": [_member("u2", "admin", 0), _member("u1", "member", 1)],
        },
        ids,
    )
    assert (plan.doc["ownerId"], plan.owner_source) == ("u1", "creator")
    assert [m["role"] for m in plan.doc["members"]] == ["admin", "owner"]
    plan = group_plan(
        {
            **base,
            "createdBy": "gone",
            "members": [
                _member("m", "member", 0),
                _member("a2", "admin", 5),
                _member("a1", "admin", 3),
            ],
        },
        ids,
    )
    assert (plan.doc["ownerId"], plan.owner_source) == ("a1", "earliest_admin")
    assert {m["userId"]: m["role"] for m in plan.doc["members"]} == {
        "m": "member",
        "a1": "owner",
        "a2": "admin",
    }
    plan = group_plan(
        {
            **base,
            "createdBy": "gone",
            "members": [_member("b", "member", 2), _member("c", "member", 1)],
        },
        ids,
    )
    assert (plan.doc["ownerId"], plan.owner_source) == ("c", "earliest_member")
    # Everyone left: kept, inactive.
    plan = group_plan({**base, "createdBy": "gone", "members": []}, ids)
    assert plan.doc["isActive"] is False


def test_users_are_referenced_by_clerk_id_or_object_id() -> None:
    ids = UserIds()
    oid = ObjectId()
    doc = user_doc({"_id": oid, "clerkId": "user_x", "email": "x@example.com"}, ids)
    assert doc["clerkId"] == "user_x"
    assert ids.resolve(oid) == "user_x"
    assert ids.resolve(str(oid)) == "user_x"
    assert ids.resolve("user_y") == "user_y"
    assert ids.resolve(ObjectId()) is None
    with pytest.raises(Invalid):
        user_doc({"_id": ObjectId(), "email": "no-clerk@example.com"}, ids)


def test_read_marks_are_the_highest_seq_read_and_the_gapless_prefix() -> None:
    marks = ReadMarks(frozenset({"a", "b"}))
    marks.add(1, {"a": T0, "b": T0})
    marks.add(2, {"a": T0})
    marks.add(3, {"b": T0 + timedelta(minutes=1), "stranger": T0})
    assert {u: (m["lastReadSeq"], m["readByThrough"]) for u, m in marks.marks().items()} == {
        "a": (2, 2),
        "b": (3, 1),
    }
