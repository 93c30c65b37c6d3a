"""The offline provider: intents -> replies, moderation (with evasion), embeddings, typing."""

from __future__ import annotations

import time

import pytest

from safechat.adapters.ai import offline_text
from safechat.adapters.ai.offline import OfflineProvider
from safechat.adapters.ai.offline_chat import (
    BANK,
    complete_typing,
    intent_of,
    summarize,
)
from safechat.services.ai.schemas import ChatRequest, Completion, ReplySuggestions, Summary, Turn

KEY = b"k" * 32


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("Are we still on for lunch tomorrow?", "plan_question"),
        ("hey there", "greeting"),
        ("Thanks so much for the help!", "thanks"),
        ("sorry, my bad", "apology"),
        ("What time does it start?", "wh_question"),
        ("Do you like pizza?", "yes_no"),
        ("Can you send me the file?", "request"),
        ("how are you doing?", "how_are_you"),
        ("I got the job!!", "good_news"),
        ("I feel sick today", "bad_news"),
        ("haha that's great lol", "laughter"),
        ("Let's meet at 5pm", "plan"),
        ("see you later!", "farewell"),
        ("The report is attached.", "default"),
    ],
)
def test_intent_picks_the_fitting_reply_bank(message: str, intent: str) -> None:
    assert intent_of(message)[0] == intent
    assert len(set(BANK[intent])) == 3


async def test_lunch_question_gets_three_sensible_distinct_replies_fast() -> None:
    provider = OfflineProvider()
    request = ChatRequest("smart_replies", [Turn("Ann", "Are we still on for lunch tomorrow?")])
    started = time.perf_counter()
    answer = await provider.complete(request, ReplySuggestions)
    assert time.perf_counter() - started < 0.05
    assert len(answer.replies) == 3
    assert len(set(answer.replies)) == 3
    assert any("still on" in r.lower() or "see you" in r.lower() for r in answer.replies)
    assert answer.confidence >= 0.8
    # Deterministic: the same input, the same answer.
    assert (await provider.complete(request, ReplySuggestions)) == answer


async def test_replies_answer_the_newest_message_of_someone_else() -> None:
    context = [Turn("Ann", "thank you so much!"), Turn("me", "Are you free?", own=True)]
    answer = await OfflineProvider().complete(
        ChatRequest("smart_replies", context), ReplySuggestions
    )
    assert answer.replies == BANK["thanks"]


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("you are an idiot", "harassment"),
        ("you 1d10t", "harassment"),  # leetspeak
        ("y0u are a m0r0n", "harassment"),
        ("f u c k this", "profanity"),  # spacing
        ("f.u.c.k", "profanity"),  # separators
        ("fuuuuuck", "profanity"),  # stretched letters
        ("sh1t", "profanity"),
        ("f*ck off", "profanity"),  # masking
        ("fuckyou", "profanity"),  # glued words
        ("\uff46\uff55\uff43\uff4b", "profanity"),  # full-width letters
        ("i will kill you", "harassment/threatening"),
        ("go kill yourself", "self-harm"),
        ("kys", "self-harm"),
        ("send me nudes", "sexual"),
    ],
)
def test_moderation_sees_through_evasion(text: str, category: str) -> None:
    flagged, categories, scores = offline_text.moderate(text)
    assert flagged, text
    assert category in categories
    assert scores[category] >= offline_text.FLAG_AT


@pytest.mark.parametrize(
    "text",
    [
        "Are we still on for lunch tomorrow?",
        "The assassin in this game is great",
        "Scunthorpe United won",
        "grape juice and a class assignment",
        "as good as it gets",
        "I passed the exam!",
        "shut the door please",
    ],
)
def test_moderation_leaves_ordinary_text_alone(text: str) -> None:
    assert offline_text.moderate(text)[0] is False


def test_moderation_is_fast() -> None:
    text = "This is a fairly ordinary message about lunch tomorrow at noon with friends " * 4
    started = time.perf_counter()
    for _ in range(100):
        offline_text.moderate(text)
    assert (time.perf_counter() - started) / 100 < 0.003


def test_embeddings_rank_related_above_unrelated() -> None:
    base = offline_text.embed("Are we still on for lunch tomorrow?", KEY)
    related = offline_text.embed("Lunch tomorrow at noon works for me", KEY)
    unrelated = offline_text.embed("The quarterly tax report is overdue", KEY)
    assert cosine(base, related) > cosine(base, unrelated) + 0.2
    assert len(base) == offline_text.DIMENSIONS
    assert abs(cosine(base, base) - 1.0) < 1e-9  # L2-normalised
    assert offline_text.embed("Are we still on for lunch tomorrow?", KEY) == base  # deterministic
    stems = offline_text.embed("lunches", KEY), offline_text.embed("lunch", KEY)
    assert cosine(*stems) > 0.9


def test_typing_completes_from_the_groups_own_phrases() -> None:
    phrases = ["let's grab lunch on friday", "let's grab lunch soon", "let's grab coffee"]
    assert complete_typing("let's grab ", phrases).completion == "lunch"
    done = complete_typing("see you tom", ["see you tomorrow at the park"] * 2)
    assert done.completion == "orrow at the"
    assert complete_typing("", phrases).completion == ""
    assert complete_typing("qqq zzz ", phrases).completion == ""


async def test_summary_names_people_and_topics() -> None:
    context = [
        Turn("Ann", "Lunch on Friday at the noodle place?"),
        Turn("Ben", "Friday lunch works, noodle place is great"),
        Turn("Ann", "Booked the noodle place for Friday"),
    ]
    summary = summarize(ChatRequest("summarize", context))
    assert "3 messages from Ann, Ben" in summary.summary
    assert "noodle" in summary.topics
    assert "friday" in summary.topics
    provider = OfflineProvider()
    assert isinstance(await provider.complete(ChatRequest("summarize", context), Summary), Summary)
    with pytest.raises(TypeError):
        await provider.complete(ChatRequest("summarize", context), Completion)
