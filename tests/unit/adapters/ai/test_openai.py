"""The OpenAI provider (real langchain-openai and openai clients) against the
OpenAI-compatible test server, behind the guard: timeouts, breaker, fallbacks."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from safechat.adapters.ai.offline import OfflineProvider
from safechat.adapters.ai.openai import OpenAIProvider
from safechat.errors import AIUnavailable
from safechat.services.ai.guard import CircuitBreaker, GuardedAI
from safechat.services.ai.schemas import ChatRequest, Completion, ReplySuggestions, Summary, Turn
from tests.helpers.ai_server import REPLIES, FakeOpenAI, fake_openai
from tests.helpers.fakes import FakeClock

LUNCH = ChatRequest("smart_replies", [Turn("Ann", "Are we still on for lunch tomorrow?")])


@pytest.fixture
async def remote() -> AsyncIterator[FakeOpenAI]:
    async with fake_openai() as server:
        yield server


def provider(url: str, timeout: float = 2.0) -> OpenAIProvider:
    return OpenAIProvider(
        api_key="sk-test",
        base_url=url,
        model="test-model",
        embedding_model="test-embed",
        moderation_model="test-moderation",
        timeout=timeout,
    )


def guard(url: str, clock: FakeClock, *, fallback: bool = True, timeout: float = 2.0) -> GuardedAI:
    return GuardedAI(
        provider(url, timeout),
        OfflineProvider(),
        CircuitBreaker(clock, 5, 300.0),
        timeout=timeout,
        moderation_timeout=0.3,
        fallback=fallback,
    )


async def test_structured_output_through_langchain(remote: FakeOpenAI) -> None:
    answer = await provider(remote.url).complete(LUNCH, ReplySuggestions)
    assert answer.replies == REPLIES
    path, body = remote.requests[-1]
    assert path == "chat"
    assert body["model"] == "test-model"
    assert body["response_format"]["type"] == "json_schema"
    assert "lunch tomorrow" in body["messages"][-1]["content"]
    typing = ChatRequest("typing", LUNCH.context, partial_text="see you")
    assert (await provider(remote.url).complete(typing, Completion)).completion
    assert (await provider(remote.url).complete(LUNCH, Summary)).summary


async def test_embeddings_and_moderation(remote: FakeOpenAI) -> None:
    p = provider(remote.url)
    vectors = await p.embed(["lunch tomorrow", "lunch at noon", "tax report"], [b"k"] * 3)
    assert len(vectors) == 3
    assert all(len(v) == 32 for v in vectors)
    assert remote.requests[-1][1]["model"] == "test-embed"
    verdicts = await p.moderate(["hello", "this has a badword"])
    assert [v.flagged for v in verdicts] == [False, True]
    assert verdicts[1].categories == ["harassment"]
    assert verdicts[1].scores["harassment"] == 0.97


async def test_garbage_answers_are_refused_not_parsed(remote: FakeOpenAI) -> None:
    remote.mode = "garbage"
    p = provider(remote.url)
    with pytest.raises(Exception):  # noqa: B017, PT011 (the client's own validation error)
        await p.complete(LUNCH, ReplySuggestions)
    g = guard(remote.url, FakeClock(), fallback=False)
    with pytest.raises(AIUnavailable):
        await g.moderate(["hi"])
    with pytest.raises(AIUnavailable):
        await g.embed(["hi", "there"], [b"k", b"k"])


async def test_timeout_falls_back_to_offline(remote: FakeOpenAI) -> None:
    remote.mode = "slow"
    g = guard(remote.url, FakeClock(), timeout=0.3)
    answer = await g.complete(LUNCH, ReplySuggestions)
    assert answer.provider == "offline"
    assert len(answer.value.replies) == 3
    strict = guard(remote.url, FakeClock(), fallback=False, timeout=0.3)
    with pytest.raises(AIUnavailable):
        await strict.complete(LUNCH, ReplySuggestions)


async def test_breaker_opens_after_five_failures_and_half_opens(remote: FakeOpenAI) -> None:
    clock = FakeClock()
    g = guard(remote.url, clock, fallback=False)
    remote.mode = "fail"
    for _ in range(5):
        with pytest.raises(AIUnavailable):
            await g.complete(LUNCH, ReplySuggestions)
    assert g.breaker.state == "open"
    calls = len(remote.requests)
    assert calls == 5  # no client retries: one failure is one request
    remote.mode = "ok"
    with pytest.raises(AIUnavailable, match="paused"):
        await g.complete(LUNCH, ReplySuggestions)
    assert len(remote.requests) == calls  # open: nothing reaches the provider
    clock.advance(299)
    with pytest.raises(AIUnavailable):
        await g.embed(["x"], [b"k"])
    clock.advance(2)
    assert g.breaker.state == "half-open"
    # The half-open trial fails: open again for another 5 minutes.
    remote.mode = "fail"
    with pytest.raises(AIUnavailable):
        await g.complete(LUNCH, ReplySuggestions)
    assert g.breaker.state == "open"
    assert len(remote.requests) == calls + 1
    clock.advance(301)
    remote.mode = "ok"
    answer = await g.complete(LUNCH, ReplySuggestions)
    assert answer.provider == "openai"
    assert g.breaker.state == "closed"


async def test_open_breaker_still_answers_from_offline_when_allowed(remote: FakeOpenAI) -> None:
    clock = FakeClock()
    g = guard(remote.url, clock)
    remote.mode = "fail"
    for _ in range(5):
        assert (await g.complete(LUNCH, ReplySuggestions)).provider == "offline"
    calls = len(remote.requests)
    assert (await g.complete(LUNCH, ReplySuggestions)).provider == "offline"
    assert len(remote.requests) == calls
    # Local moderation never leaves the process, breaker or not.
    assert (await g.moderate(["you idiot"], local=True)).value[0].flagged


def test_breaker_half_open_allows_one_trial_at_a_time() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(clock, 2, 10.0)
    breaker.failure()
    assert breaker.allow()
    breaker.failure()
    assert not breaker.allow()
    clock.advance(10)
    assert breaker.allow()
    assert not breaker.allow()  # the trial is out
    breaker.release()  # cancelled: another trial may go
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed"
    assert breaker.allow()
