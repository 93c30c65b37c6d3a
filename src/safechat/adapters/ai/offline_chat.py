"""Chat heuristics of the offline AI provider (offline.py): smart replies from a
curated bank chosen by the intent of the last message, typing completions from the
group's own frequent phrases, extractive summaries. Pure functions, English only
(docs/ai.md): `answer` runs inline or in a worker process.
"""

from __future__ import annotations

import re
from collections import Counter

from pydantic import BaseModel

from safechat.adapters.ai import offline_text as text
from safechat.services.ai.schemas import (
    ChatRequest,
    Completion,
    ReplySuggestions,
    Summary,
    Turn,
)

# Cost caps: characters read per call.
PHRASE_MAX_CHARS = 200
PARTIAL_MAX_CHARS = 200
INTENT_MAX_CHARS = 1000
SUMMARY_SCAN_CHARS = 1000
SUMMARY_MAX_CHARS = 4000  # Summary.summary's limit
COMPLETION_MAX_CHARS = 200  # Completion.completion's limit


def _words(*items: str) -> re.Pattern[str]:
    return re.compile(r"\b(" + "|".join(items) + r")\b")


PLAN = _words(
    "lunch", "dinner", "breakfast", "brunch", "coffee", "drinks?", "meet(ing)?", "call",
    "tomorrow", "tonight", "today", "weekend", "monday", "tuesday", "wednesday", "thursday",
    "friday", "saturday", "sunday", "later", "still on", "plans?", "party", "movie",
    r"at \d{1,2}", r"\d{1,2}(:\d\d)? ?(am|pm)", "o'?clock", "noon",
)  # fmt: skip
AUX = _words(
    "are", "is", "am", "was", "were", "do", "does", "did", "can", "could", "will", "would",
    "should", "shall", "have", "has", "had", "may", "might", "want", "wanna",
)  # fmt: skip
WH = _words("what", "when", "where", "who", "why", "how", "which", "whose")
INTENTS: list[tuple[str, re.Pattern[str]]] = [
    ("farewell", _words("bye", "goodbye", "good night", "goodnight", "gn", "ttyl", "see you",
                        "see ya", "cya", "talk later", "later")),
    ("thanks", _words("thanks?", "thank you", "thx", "ty", "appreciate(d)?", "cheers")),
    ("apology", _words("sorry", "apologi[sz]e", "apologies", "my bad", "forgive me")),
    ("good_news", _words("congrats", "got the job", "passed", "promoted", "promotion",
                         "engaged", "great news", "good news", "we won", "i won", "finally did")),
    ("bad_news", _words("sick", "sad", "lost", "failed", "terrible", "awful", "broke up",
                        "bad day", "passed away", "died", "hospital", "stressed", "tired")),
    ("request", re.compile(r"^(can|could|would|will) (you|u)\b|\bplease\b|\bpls\b")),
    ("how_are_you", re.compile(r"\bhow (are|r) (you|u)\b|\bhow'?s it going\b|\bwhat'?s up\b")),
    ("greeting", _words("hi", "hello", "hey", "heya", "yo", "good morning", "good evening",
                        "morning", "hiya")),
    ("laughter", re.compile(r"\b(lol|lmao|haha+|hehe+|rofl)\b|😂|🤣")),
    ("agreement", _words("ok", "okay", "sure", "sounds good", "great", "cool", "perfect",
                         "deal", "agreed", "yes", "yep", "yeah")),
]  # fmt: skip
BANK: dict[str, list[str]] = {
    "plan_question": [
        "Yes, still on!", "Sounds good, see you then!", "Can we push it a bit later?",
    ],
    "plan": ["Works for me!", "What time?", "Sorry, I can't make it."],
    "yes_no": ["Yes!", "No, not really.", "Let me check and get back to you."],
    "wh_question": [
        "Good question, let me check.", "I'm not sure yet.", "I'll get back to you on that.",
    ],
    "request": ["Sure, I can do that.", "On it!", "Sorry, I can't right now."],
    "how_are_you": ["I'm good, thanks! You?", "Doing great, how about you?", "Not bad! What's up?"],
    "farewell": ["Bye! 👋", "See you soon!", "Take care!"],
    "thanks": ["You're welcome!", "No problem!", "Anytime 🙂"],
    "apology": ["No worries!", "It's all good.", "Don't worry about it."],
    "good_news": ["Congratulations! 🎉", "That's awesome news!", "So happy for you!"],
    "bad_news": [
        "Oh no, I'm sorry to hear that.", "That sounds rough. Can I help?", "Sending you a hug.",
    ],
    "greeting": ["Hey! 👋", "Hi! How are you?", "Hello!"],
    "laughter": ["Haha 😂", "That's hilarious!", "LOL"],
    "agreement": ["Great!", "Perfect 👍", "Awesome, thanks!"],
    "default": ["Okay 👍", "Got it, thanks!", "Tell me more."],
}  # fmt: skip
COMMON_PHRASES = [
    "see you tomorrow", "see you soon", "thank you so much", "thanks a lot", "on my way",
    "sounds good to me", "let me know", "let me check", "talk to you later", "how are you doing",
    "what time works for you", "I'll be there soon", "no problem at all", "have a great day",
    "good morning everyone", "happy birthday", "I'm running a bit late", "are you free tomorrow",
    "can you send me the details", "I think so",
]  # fmt: skip


def intent_of(message: str) -> tuple[str, float]:
    """The reply-bank key for a message and how sure we are (0..1)."""
    folded = " ".join(text.tokens(message)) + (" ?" if message.rstrip().endswith("?") else "")
    folded = folded.replace(" ' ", "'")
    is_question = message.rstrip().endswith("?")
    matched = [name for name, pattern in INTENTS if pattern.search(folded)]
    if is_question and PLAN.search(folded) and not WH.match(folded):
        return "plan_question", 0.85
    for strong in ("how_are_you", "good_news", "bad_news", "apology", "thanks", "farewell"):
        if strong in matched:
            return strong, 0.8
    if "request" in matched and is_question:
        return "request", 0.75
    if is_question:
        if WH.match(folded):
            return "wh_question", 0.6
        if AUX.match(folded):
            return "yes_no", 0.65
        return "yes_no", 0.5
    if PLAN.search(folded):
        return "plan", 0.6
    for name in ("request", "greeting", "laughter", "agreement"):
        if name in matched:
            return name, 0.65
    return "default", 0.35


def _target(context: list[Turn]) -> str:
    """The message to answer: the newest one someone else sent (its end: a question
    mark and the last sentence say most)."""
    for turn in reversed(context):
        if not turn.own and turn.text.strip():
            return turn.text[-INTENT_MAX_CHARS:]
    return context[-1].text[-INTENT_MAX_CHARS:] if context else ""


def smart_replies(request: ChatRequest) -> ReplySuggestions:
    intent, confidence = intent_of(_target(request.context))
    return ReplySuggestions(replies=list(BANK[intent]), language="en", confidence=confidence)


def complete_typing(partial: str, phrases: list[str]) -> Completion:
    """Continues `partial` with the most frequent continuation among the group's
    phrases (counted twice) and a few common ones.

    Cost caps: the start of each phrase (PHRASE_MAX_CHARS), the end of the partial
    text, and repeated phrases are scanned once with their count as weight."""
    partial = partial[-PARTIAL_MAX_CHARS:]
    if not partial.strip():
        return Completion(completion="", confidence=0.0)
    repeats: Counter[str] = Counter()
    for phrase in phrases:
        repeats[head_of(phrase, PHRASE_MAX_CHARS).lower()] += 2
    for phrase in COMMON_PHRASES:
        repeats[phrase.lower()] += 1
    mid_word = not partial[-1].isspace()
    typed = partial.lower().split()
    prefix = typed[-1] if mid_word else ""
    context = typed[:-1] if mid_word else typed
    options: Counter[str] = Counter()
    followers: dict[str, Counter[str]] = {}
    for phrase, times in repeats.items():
        words = phrase.split()
        for i, word in enumerate(words):
            if mid_word and not word.startswith(prefix):
                continue
            before = words[max(0, i - 2) : i]
            if not mid_word and (i == 0 or before[-1:] != context[-1:]):
                continue
            shared = zip(reversed(before), reversed(context), strict=False)
            weight = times * (1 + sum(1 for a, b in shared if a == b))
            head, after = (word[len(prefix) :] if mid_word else word), i + 1
            if mid_word and not head:  # the word is complete: suggest the next one
                if after >= len(words):
                    continue
                head, after = " " + words[after], after + 1
            options[head] += weight
            followers.setdefault(head, Counter())[" ".join(words[after : after + 2])] += weight
    if not options:
        return Completion(completion="", confidence=0.0)
    best, score = max(options.items(), key=lambda kv: (kv[1], -len(kv[0]), kv[0]))
    # Add the words that usually follow, when most occurrences agree on them.
    tail, count = followers[best].most_common(1)[0]
    if tail and count * 2 > score:
        best = f"{best} {tail}"
    confidence = round(min(0.9, score / sum(options.values())), 3)
    return Completion(completion=best[:COMPLETION_MAX_CHARS], confidence=confidence)


def summarize(request: ChatRequest) -> Summary:
    """Extractive: count, people, top keywords, three highlights. Each message counts
    with its first SUMMARY_SCAN_CHARS characters; repeated texts are read once."""
    turns = [t for t in request.context if t.text.strip()]
    if not turns:
        return Summary(summary="No messages in this period.", topics=[])
    words_of: dict[str, set[str]] = {}
    counts: Counter[str] = Counter()
    for turn in turns:
        if turn.text not in words_of:
            words_of[turn.text] = tokens_of(head_of(turn.text, SUMMARY_SCAN_CHARS))
        content = words_of[turn.text] - text.STOPWORDS
        counts.update(w for w in content if len(w) > 2)
    topics = [w for w, _ in counts.most_common(5)]
    people = list(dict.fromkeys(t.sender for t in turns))
    weights = [sum(counts[w] for w in words_of[t.text]) for t in turns]
    # By position, not by value: equal turns (a repeated message) are distinct lines.
    best = sorted(range(len(turns)), key=lambda i: weights[i], reverse=True)[:3]
    lines = [f"{turns[i].sender}: {turns[i].text[:160]}" for i in sorted(best)]
    head = f"{len(turns)} messages from {', '.join(people[:6])}."
    if topics:
        head += f" Topics: {', '.join(topics)}."
    summary = " ".join([head, "Highlights:", *lines])
    return Summary(summary=summary[:SUMMARY_MAX_CHARS], topics=topics)


def head_of(value: str, limit: int) -> str:
    """The first `limit` characters of `value`, without a cut-off last word."""
    if len(value) <= limit:
        return value
    cut = value[:limit]
    parts = cut.rsplit(None, 1)
    return parts[0] if value[limit].isalnum() and len(parts) == 2 else cut


def tokens_of(value: str) -> set[str]:
    return {text.stem(w) for w in text.tokens(value)}


def answer(request: ChatRequest) -> BaseModel:
    """The offline answer to a request (a pure function: runs in a worker process)."""
    if request.task == "smart_replies":
        return smart_replies(request)
    if request.task == "typing":
        return complete_typing(request.partial_text, request.phrases)
    return summarize(request)


def request_size(request: ChatRequest) -> int:
    """Characters the offline provider may read for `request` (to pick inline or pool)."""
    if request.task == "typing":
        return sum(min(len(p), PHRASE_MAX_CHARS) for p in request.phrases)
    if request.task == "summarize":
        return sum(min(len(t.text), SUMMARY_SCAN_CHARS) for t in request.context)
    return INTENT_MAX_CHARS
