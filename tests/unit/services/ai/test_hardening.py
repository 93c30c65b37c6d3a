"""Issue 9, unit level: keyed embeddings, capped offline heuristics, the process pool."""

from __future__ import annotations

import base64
import os
import signal
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from safechat.adapters.ai import offline_text
from safechat.adapters.ai.cpu_pool import ProcessPool
from safechat.adapters.ai.offline import OfflineProvider
from safechat.adapters.ai.offline_chat import (
    PHRASE_MAX_CHARS,
    complete_typing,
    summarize,
)
from safechat.errors import AIUnavailable
from safechat.services.ai.schemas import ChatRequest, Summary, Turn
from safechat.services.encryption import HKDF_INFO, Encryptor

LONG = ("a b " * 1000)[:4000]
R = TypeVar("R")


def encryptor(seed: bytes) -> Encryptor:
    return Encryptor.from_spec(f"k1:{base64.b64encode(seed * 32).decode()}")


def cosine(u: list[float], v: list[float]) -> float:
    return float(np.dot(u, v))


def test_embedding_keys_differ_per_group_and_master_key_and_from_content_keys() -> None:
    one, two = encryptor(b"\x01"), encryptor(b"\x02")
    key = one.embedding_key("group-a")
    assert key == one.embedding_key("group-a")
    assert len(key) == 32
    assert key != one.embedding_key("group-b")
    assert key != two.embedding_key("group-a")
    # Not the content key of the group (another HKDF info string).
    content = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"group-a", info=HKDF_INFO)
    assert content.derive(b"\x01" * 32) != key


def test_vectors_of_the_same_text_are_unrelated_under_different_keys() -> None:
    text = "Are we still on for lunch tomorrow?"
    one, two = encryptor(b"\x01"), encryptor(b"\x02")
    a = offline_text.embed(text, one.embedding_key("g1"))
    other_group = offline_text.embed(text, one.embedding_key("g2"))
    other_master = offline_text.embed(text, two.embedding_key("g1"))
    unkeyed_guess = offline_text.embed(text, b"")
    assert abs(cosine(a, a) - 1.0) < 1e-9
    for other in (other_group, other_master, unkeyed_guess):
        assert abs(cosine(a, other)) < 0.5
    # Within one key, search still ranks: related above unrelated.
    key = one.embedding_key("g1")
    related = offline_text.embed("Lunch tomorrow at noon works for me", key)
    unrelated = offline_text.embed("The quarterly tax report is overdue", key)
    assert cosine(a, related) > cosine(a, unrelated) + 0.2


async def test_offline_embeddings_refuse_to_run_unkeyed() -> None:
    with pytest.raises(ValueError, match="key"):
        await OfflineProvider().embed(["hello"], [b""])


def test_summary_of_identical_long_messages_fits_the_schema() -> None:
    turns = [Turn("Ann", LONG)] * 200
    summary = summarize(ChatRequest("summarize", turns))
    assert summary.summary.startswith("200 messages from Ann.")
    assert summary.summary.count("Ann: ") == 3  # three highlights, not every equal turn
    Summary.model_validate(summary.model_dump())


def test_typing_reads_a_bounded_start_of_each_phrase() -> None:
    # The continuation past the cap is not seen; before it, it is.
    phrase = "x " * (PHRASE_MAX_CHARS // 2) + "see you tomorrow"
    assert complete_typing("see you ", [phrase]).completion != "tomorrow"
    assert complete_typing("see you ", ["see you tomorrow"] * 3).completion == "tomorrow"
    assert complete_typing("a ", [LONG] * 200).completion.startswith("b")


async def test_process_pool_runs_work_and_recovers_from_a_dead_worker() -> None:
    pool = ProcessPool(1)
    try:
        assert await pool.run(offline_text.embed_many, ["lunch"], [b"k"]) == [
            offline_text.embed("lunch", b"k")
        ]
        worker = await pool.run(os.getpid)
        assert worker != os.getpid()
        with pytest.raises(AIUnavailable):
            await pool.run(os.kill, worker, signal.SIGKILL)
        assert await pool.run(sum, [1, 2]) == 3  # a fresh pool after the broken one
    finally:
        await pool.close()
    with pytest.raises(AIUnavailable):
        await pool.run(sum, [1])


class Recording:
    """The real pool, noting what it is asked to run."""

    def __init__(self, pool: ProcessPool) -> None:
        self.pool = pool
        self.ran: list[str] = []

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        self.ran.append(fn.__name__)
        return await self.pool.run(fn, *args)


async def test_offline_provider_sends_large_work_to_the_pool() -> None:
    pool = Recording(ProcessPool(1))
    try:
        provider = OfflineProvider(pool)
        await provider.moderate(["a short message"])
        assert pool.ran == []  # small work stays inline: a pool hop would cost more
        request = ChatRequest("summarize", [Turn("Ann", LONG)] * 50)
        assert (await provider.complete(request, Summary)).summary.startswith("50 messages")
        keys = [b"k"] * 30
        assert await provider.embed([LONG] * 30, keys) == offline_text.embed_many([LONG] * 30, keys)
        await provider.moderate([LONG])
        # 30 long texts go in chunks, so other work can interleave.
        assert pool.ran == ["answer", "embed_many", "embed_many", "embed_many", "moderate_many"]
    finally:
        await pool.pool.close()
