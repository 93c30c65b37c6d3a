"""LangGraph pipelines over a fixed conversation, vector search as data, doctor checks."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime
from typing import Any

import numpy as np
from bson import ObjectId

from safechat.adapters.ai.offline import OfflineProvider
from safechat.config import Settings
from safechat.doctor import ai_checks
from safechat.models.group import Group
from safechat.repositories.embeddings import (
    atlas_pipeline,
    check_vector_index,
    decode_vector,
    encode_float32,
    top_cosine,
    vector_index_definition,
)
from safechat.services.ai.graphs import LazyGraph, Pipelines, distinct
from safechat.services.ai.guard import CircuitBreaker, GuardedAI
from safechat.services.ai.schemas import Turn
from tests.helpers.fakes import FakeClock

NOW = datetime(2026, 1, 1, tzinfo=UTC)
GROUP = Group(ObjectId(), "g", None, False, True, "ann", [], 0, NOW, NOW)


class Conversation:
    """A ConversationSource over fixed turns (the data the graph works on)."""

    def __init__(self, turns: list[Turn], similar: list[str] | None = None) -> None:
        self.turns = turns
        self.found = similar or []
        self.asked: list[str] = []

    async def recent(self, group: Group, viewer: str, limit: int) -> list[Turn]:
        return self.turns[-limit:]

    async def since(self, group: Group, viewer: str, since: datetime, limit: int) -> list[Turn]:
        return self.turns[-limit:]

    async def similar(self, group: Group, text: str, limit: int) -> list[str]:
        self.asked.append(text)
        return self.found[:limit]


def pipelines(source: Conversation) -> Pipelines:
    offline = OfflineProvider()
    guard = GuardedAI(
        offline,
        offline,
        CircuitBreaker(FakeClock()),
        timeout=1,
        moderation_timeout=1,
        fallback=True,
    )
    return Pipelines(source, guard, context_messages=5)


async def test_smart_replies_graph_runs_every_step() -> None:
    source = Conversation(
        [Turn("Ann", "hi"), Turn("Ann", "Are we still on for lunch tomorrow?")],
        similar=["lunch at noon?", "hi"],
    )
    state = await pipelines(source).smart_replies.ainvoke(
        {"group": GROUP, "user_id": "ben", "message_content": None}
    )
    assert source.asked == ["Are we still on for lunch tomorrow?"]
    assert state["similar"] == ["lunch at noon?"]  # what is already in context is dropped
    assert state["replies"][0] == "Yes, still on!"
    assert len(state["replies"]) == 3
    assert state["provider"] == "offline"


async def test_given_message_content_is_what_gets_answered() -> None:
    state = await pipelines(Conversation([Turn("Ann", "hi")])).smart_replies.ainvoke(
        {"group": GROUP, "user_id": "ben", "message_content": "thank you!"}
    )
    assert state["replies"][0] == "You're welcome!"


async def test_typing_and_summary_graphs() -> None:
    source = Conversation([Turn("Ann", "see you at the park"), Turn("Ben", "see you soon")])
    p = pipelines(source)
    state = await p.typing.ainvoke({"group": GROUP, "user_id": "ben", "partial_text": "see you at"})
    assert state["completion"] == " the park"
    state = await p.summarize.ainvoke({"group": GROUP, "user_id": "ben", "since": NOW})
    assert "2 messages from Ann, Ben" in state["summary"]
    empty = await pipelines(Conversation([])).summarize.ainvoke(
        {"group": GROUP, "user_id": "ben", "since": NOW}
    )
    assert empty["summary"] == "No messages in this period."


async def test_a_graph_is_compiled_once_off_the_loop_on_first_run() -> None:
    built: list[str] = []

    class Echo:
        async def ainvoke(self, state: dict[str, Any]) -> dict[str, Any]:
            return {**state, "ran": True}

    def build() -> Echo:
        built.append(threading.current_thread().name)
        return Echo()

    graph = LazyGraph(build)
    assert built == []  # nothing compiled (nor langgraph imported) before the first run
    first = await asyncio.gather(*(graph.ainvoke({"n": i}) for i in range(5)))
    assert first == [{"n": i, "ran": True} for i in range(5)]
    assert len(built) == 1  # concurrent first runs share one compilation
    assert built[0] != threading.main_thread().name  # the import ran in a thread
    await graph.ainvoke({"n": 9})
    assert len(built) == 1


def test_distinct_replies() -> None:
    assert distinct(["Yes!", "yes", " No ", "", "No."]) == ["Yes!", "No"]


def test_exact_cosine_ranks_best_first() -> None:
    ids = [ObjectId() for _ in range(4)]
    vectors = [[1.0, 0.0], [0.0, 1.0], [0.7, 0.7], [0.0, 0.0]]
    hits = top_cosine(ids, vectors, [1.0, 0.1], 3)
    assert [h[0] for h in hits] == [ids[0], ids[2], ids[1]]
    assert abs(hits[0][1] - 0.995) < 0.01


def test_stored_vectors_are_the_bytes_numpy_writes() -> None:
    # Vectors are packed without numpy on the send path; search still reads them with it.
    vector = [0.1, -2.5, 3.4028235e38, 1e-46, 0.0, 7, 1 / 3]
    packed = encode_float32(vector)
    assert packed == np.asarray(vector, dtype="<f4").tobytes()
    assert decode_vector(packed).tolist() == np.asarray(vector, dtype=np.float32).tolist()


def test_atlas_pipeline_and_index_definition() -> None:
    gid = ObjectId()
    pipeline = atlas_pipeline("vidx", gid, "m1", [0.1, 0.2], 5)
    stage = pipeline[0]["$vectorSearch"]
    assert stage["index"] == "vidx"
    assert stage["path"] == "vector"
    assert stage["filter"] == {"groupId": {"$eq": gid}, "model": {"$eq": "m1"}}
    assert stage["limit"] == 5
    assert stage["numCandidates"] >= 100
    assert pipeline[1]["$project"]["score"] == {"$meta": "vectorSearchScore"}

    index = vector_index_definition("vidx", 1536)
    fields = index["definition"]["fields"]
    assert {"type": "filter", "path": "groupId"} in fields
    # What Atlas lists (`latestDefinition`, `status`) is checked by doctor.
    listed = [{"name": "vidx", "type": "vectorSearch", "status": "READY",
               "latestDefinition": index["definition"]}]  # fmt: skip
    assert check_vector_index(listed, "vidx") == (True, "vector index 'vidx' status READY")
    assert check_vector_index([], "vidx")[0] is False
    partial = [{"name": "vidx", "latestDefinition": {"fields": fields[:1]}}]
    ok, detail = check_vector_index(partial, "vidx")
    assert not ok
    assert "groupId" in detail


def test_doctor_ai_rows() -> None:
    assert ai_checks(Settings(ai_provider="offline"))[0] == (
        "ai",
        True,
        "embedded offline provider (no network)",
    )
    remote = Settings(openai_base_url="http://127.0.0.1:9/v1", moderation_mode="block")
    _, ok, detail = ai_checks(remote)[0]
    assert ok
    assert "127.0.0.1:9" in detail
    assert ai_checks(remote)[1] == ("moderation", True, "mode block")
    assert ai_checks(Settings(ai_provider="openai"))[0][1] is False
