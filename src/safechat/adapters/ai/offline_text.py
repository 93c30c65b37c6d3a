"""Text heuristics of the offline AI provider: normalisation, moderation word
lists and patterns, hashing embeddings. Pure functions, deterministic, no IO.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import re
import unicodedata
from collections import Counter, defaultdict

# --- normalisation -----------------------------------------------------------

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g",
     "@": "a", "$": "s", "!": "i", "|": "l", "+": "t", "€": "e"}
)  # fmt: skip
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200f\u2060-\u2064\ufeff]")
_WORD = re.compile(r"[a-z]+")
_MASKED = re.compile(r"^[a-z]+[*#]+[a-z*#]*$")
_STRETCHED = re.compile(r"(.)\1{2,}")
_RUNS = re.compile(r"(.)\1+")


def fold(text: str) -> str:
    """Casefolded, accents and invisible characters removed."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKD", text.casefold()))
    return "".join(c for c in text if not unicodedata.combining(c))


def moderation_words(text: str) -> tuple[list[str], list[str]]:
    """Words as a filter sees them, with evasion undone, and masked tokens (`f*ck`).

    Leetspeak is mapped to letters, separators between single letters are
    dropped (`f u c k`, `f.u.c.k`), so each comes out as one word.
    """
    folded = fold(text)
    masked = [t for t in folded.split() if _MASKED.match(t.translate(_LEET))]
    raw = _WORD.findall(folded.translate(_LEET))
    words: list[str] = []
    singles: list[str] = []
    for word in raw:
        if len(word) == 1:
            singles.append(word)
            continue
        if len(singles) >= 3:
            words.append("".join(singles))
        else:
            words.extend(singles)
        singles = []
        words.append(word)
    words.extend(["".join(singles)] if len(singles) >= 3 else singles)
    return words, [t.translate(_LEET) for t in masked]


# --- moderation --------------------------------------------------------------

# category -> {term: score}. Scores >= FLAG_AT flag a message on their own.
FLAG_AT = 0.5
LEXICON: dict[str, dict[str, float]] = {
    "profanity": {
        "fuck": 0.7, "motherfucker": 0.8, "shit": 0.6, "bullshit": 0.6, "bitch": 0.7,
        "cunt": 0.8, "dick": 0.5, "cock": 0.5, "piss": 0.5, "wanker": 0.7, "twat": 0.7,
        "bastard": 0.6, "crap": 0.3, "damn": 0.2, "asshole": 0.8, "dumbass": 0.7,
    },
    "harassment": {
        "idiot": 0.7, "moron": 0.7, "stupid": 0.5, "loser": 0.6, "retard": 0.8, "scum": 0.7,
        "worthless": 0.6, "pathetic": 0.4, "ugly": 0.4, "imbecile": 0.7, "jerk": 0.4,
        "asshole": 0.8, "bitch": 0.6, "dumbass": 0.7, "shut": 0.1,
    },
    "hate": {
        "nigger": 0.95, "faggot": 0.95, "kike": 0.95, "spic": 0.9, "chink": 0.9, "tranny": 0.8,
    },
    "sexual": {
        "porn": 0.6, "nudes": 0.7, "blowjob": 0.8, "horny": 0.5, "slut": 0.8, "whore": 0.8,
        "sex": 0.3, "naked": 0.4,
    },
    "violence": {
        "kill": 0.3, "murder": 0.5, "stab": 0.5, "shoot": 0.4, "bomb": 0.3, "rape": 0.9,
        "behead": 0.8,
    },
    "spam": {"viagra": 0.7, "casino": 0.4, "crypto": 0.2, "giveaway": 0.3},
}  # fmt: skip

# Phrases on the cleaned-up word stream (`i wil kil you` still reads as words).
PATTERNS: list[tuple[re.Pattern[str], dict[str, float]]] = [
    (
        re.compile(r"\b(kill|hurt|hang|cut)\s+(yourself|yourselves|urself)\b|\bkys\b"),
        {"self-harm": 0.9, "harassment": 0.8},
    ),
    (
        re.compile(
            r"\bi\s*(ll|will|m\s+going\s+to|m\s+gonna|am\s+going\s+to|gonna)\s+"
            r"(kill|murder|hurt|stab|shoot|beat|find)\s+(you|u|him|her|them|your)\b"
        ),
        {"harassment/threatening": 0.95, "violence": 0.8},
    ),
    (
        re.compile(r"\b(kill|murder|stab|shoot)\s+(you|u|him|her|them|everyone)\b"),
        {"violence": 0.7},
    ),
    (
        re.compile(r"\b(want|going|gonna)\s+to\s+(die|end\s+it)\b|\bsuicide\b"),
        {"self-harm": 0.7},
    ),
    (re.compile(r"\bsend\s+(me\s+)?nudes\b|\bdick\s+pic"), {"sexual": 0.9}),
    (re.compile(r"\b(free\s+money|click\s+here|buy\s+now|earn\s+\w+\s+fast)\b"), {"spam": 0.6}),
]
# Long, unambiguous terms also found inside other words (`fuckyou`, `youidiot`).
EMBEDDED = ("fuck", "nigger", "faggot", "asshole", "motherfucker", "idiot", "bitch")
_SUFFIXES = ("ing", "in", "er", "ers", "ed", "s", "es", "y")
_INDEX: dict[str, list[tuple[str, float]]] = {}
for _category, _terms in LEXICON.items():
    for _term, _score in _terms.items():
        _INDEX.setdefault(_term, []).append((_category, _score))
_COLLAPSED = {_RUNS.sub(r"\1", t): t for t in _INDEX}
_MASKABLE: dict[tuple[int, str], list[str]] = {}
for _term in _INDEX:
    if len(_term) >= 4:
        _MASKABLE.setdefault((len(_term), _term[0]), []).append(_term)


def _lookup(word: str) -> str | None:
    if word in _INDEX:
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and word[: -len(suffix)] in _INDEX:
            return word[: -len(suffix)]
    if _STRETCHED.search(word):  # "fuuuuck", "idiooot": only when a letter was stretched
        collapsed = _RUNS.sub(r"\1", word)
        for cut in ("", *_SUFFIXES):
            stem = collapsed[: -len(cut)] if cut else collapsed
            if stem in _COLLAPSED:
                return _COLLAPSED[stem]
    return None


def _masked_term(token: str) -> str | None:
    """The listed term a mask like `f*ck` stands for: same length, letters agree.
    A mask starts with a letter (_MASKED), so candidates are looked up by length and
    first letter: no regex per token (compiling one each cost 15 ms per message)."""
    for term in _MASKABLE.get((len(token), token[0]), ()):
        if all(c == t or c in "*#" for c, t in zip(token, term, strict=True)):
            return term
    return None


def moderate(text: str) -> tuple[bool, list[str], dict[str, float]]:
    """(flagged, categories over the threshold, score per category that fired)."""
    words, masked = moderation_words(text)
    hits: list[str] = []
    for word in words:
        term = _lookup(word)
        if term is None and len(word) > 6:
            term = next((t for t in EMBEDDED if t in word), None)
        if term is not None:
            hits.append(term)
    hits += [t for t in map(_masked_term, masked) if t]
    scores: dict[str, float] = {}
    counts: Counter[str] = Counter()
    for term in hits:
        for category, score in _INDEX[term]:
            counts[category] += 1
            scores[category] = max(scores.get(category, 0.0), score)
    stream = " ".join(words)
    for pattern, found in PATTERNS:
        if pattern.search(stream):
            for category, score in found.items():
                counts[category] += 1
                scores[category] = max(scores.get(category, 0.0), score)
    # Repetition raises a score a little, never past 1.
    final = {c: round(min(1.0, s + 0.1 * (counts[c] - 1)), 3) for c, s in sorted(scores.items())}
    categories = [c for c, s in final.items() if s >= FLAG_AT]
    return bool(categories), categories, final


# --- hashing embeddings ------------------------------------------------------

DIMENSIONS = 256
# v2: keyed per group (v1 hashed with no key: a guess could be checked against a vector).
MODEL_NAME = f"offline-hash-{DIMENSIONS}-v2"
UNKEYED_MODELS = (f"offline-hash-{DIMENSIONS}-v1",)
# Cost caps: a vector describes at most this much of a message (its start).
EMBED_MAX_CHARS = 2000
_STOP = """
a an the and or but if of at by for with about to from in on up out over under again
is are was were be been being am do does did have has had i me my we our you your he him
his she her it its they them their this that these those there here what which who whom
so than too very just can will would should could shall may might must not no yes ok
oh as into then also all any some such only own same s t
"""
STOPWORDS = frozenset(_STOP.split())
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")


def stem(word: str) -> str:
    word = word.removesuffix("'s")
    for suffix, keep in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", ""), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: -len(suffix)] + keep
    return word


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(fold(text))


def _slot(feature: str, key: bytes) -> tuple[int, float]:
    # Keyed BLAKE2b is a PRF: without the key, where a word lands says nothing.
    digest = hashlib.blake2b(feature.encode(), digest_size=8, key=key).digest()
    value = int.from_bytes(digest, "big")
    return value % DIMENSIONS, 1.0 if (value >> 40) & 1 else -1.0


def embed(text: str, key: bytes) -> list[float]:
    """Signed feature hashing of stemmed content words (1.0), their bigrams (0.5)
    and character trigrams (0.2) into DIMENSIONS slots, L2-normalised.

    `key` (up to 64 bytes; the group's embedding key) selects the hash function, so
    vectors made with different keys are unrelated. Each distinct feature is hashed
    once, and only the first EMBED_MAX_CHARS characters count."""
    words = [stem(w) for w in tokens(text[:EMBED_MAX_CHARS])]
    content = [w for w in words if w not in STOPWORDS] or words
    features: defaultdict[str, float] = defaultdict(float)
    for w in content:
        features[f"w:{w}"] += 1.0
        padded = f"<{w}>"
        for i in range(len(padded) - 2):
            features[f"c:{padded[i : i + 3]}"] += 0.2
    for a, b in itertools.pairwise(content):
        features[f"b:{a} {b}"] += 0.5
    vector = [0.0] * DIMENSIONS
    for feature, weight in features.items():
        index, sign = _slot(feature, key)
        vector[index] += sign * weight
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm else vector


def embed_many(texts: list[str], keys: list[bytes]) -> list[list[float]]:
    """embed() over a batch: one call for a worker process."""
    return [embed(t, k) for t, k in zip(texts, keys, strict=True)]
