"""LangGraph pipelines: smart replies, typing suggestions, summaries.

Graphs are compiled once per app, on their first run; nodes get their data through a
ConversationSource (the AI service) and call models only through GuardedAI.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypedDict

from safechat.errors import AIUnavailable
from safechat.models.group import Group
from safechat.services.ai.guard import GuardedAI
from safechat.services.ai.schemas import ChatRequest, Completion, ReplySuggestions, Summary, Turn

MAX_REPLIES = 3


def pipeline(state: type[Any], *steps: tuple[str, Any]) -> Any:
    """A compiled LangGraph graph running `steps` (name, node) one after the other."""
    # Imported here, not at the top: langgraph brings langchain-core and langsmith
    # (~60 MiB of RSS, ~1.5 s of imports) that a server nobody asks for AI never needs.
    from langgraph.graph import END, START, StateGraph

    graph = StateGraph(state)
    for name, node in steps:
        graph.add_node(name, node)
    names = [START, *(name for name, _ in steps), END]
    for before, after in itertools.pairwise(names):
        graph.add_edge(before, after)
    return graph.compile()


class LazyGraph:
    """A pipeline compiled on its first `ainvoke`, in a thread.

    The first AI request pays langgraph's import; a thread keeps the event loop (every
    other client) running meanwhile. Concurrent first requests compile once."""

    def __init__(self, build: Callable[[], Any]) -> None:
        self._build = build
        self._graph: Any = None
        self._lock = asyncio.Lock()

    async def compiled(self) -> Any:
        if self._graph is None:
            async with self._lock:
                if self._graph is None:
                    self._graph = await asyncio.to_thread(self._build)
        return self._graph

    async def ainvoke(self, state: Any) -> Any:
        return await (await self.compiled()).ainvoke(state)


class ConversationSource(Protocol):
    async def recent(self, group: Group, viewer: str, limit: int) -> list[Turn]: ...

    async def since(self, group: Group, viewer: str, since: datetime, limit: int) -> list[Turn]: ...

    async def similar(self, group: Group, text: str, limit: int) -> list[str]: ...


class RepliesState(TypedDict, total=False):
    group: Group
    user_id: str
    message_content: str | None
    context: list[Turn]
    similar: list[str]
    replies: list[str]
    confidence: float
    provider: str


class TypingState(TypedDict, total=False):
    group: Group
    user_id: str
    partial_text: str
    context: list[Turn]
    completion: str
    confidence: float
    provider: str


class SummaryState(TypedDict, total=False):
    group: Group
    user_id: str
    since: datetime
    context: list[Turn]
    summary: str
    topics: list[str]
    provider: str


def distinct(replies: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for reply in (r.strip() for r in replies):
        key = reply.casefold().rstrip(".!?")
        if reply and key not in seen:
            seen.add(key)
            out.append(reply)
    return out


class Pipelines:
    def __init__(
        self,
        source: ConversationSource,
        guard: GuardedAI,
        *,
        context_messages: int = 20,
        phrase_messages: int = 200,
    ) -> None:
        self._source = source
        self._guard = guard
        self._context = context_messages
        self._phrases = phrase_messages
        self.smart_replies = LazyGraph(self._smart_replies_graph)
        self.typing = LazyGraph(self._typing_graph)
        self.summarize = LazyGraph(self._summary_graph)

    # --- smart replies: context -> similar -> generate -> moderate ----------

    def _smart_replies_graph(self) -> Any:
        return pipeline(
            RepliesState,
            ("load_context", self._load_context),
            ("retrieve_similar", self._retrieve),
            ("generate", self._generate),
            ("moderate", self._moderate_replies),
        )

    async def _load_context(self, state: RepliesState) -> dict[str, Any]:
        context = await self._source.recent(state["group"], state["user_id"], self._context)
        extra = (state.get("message_content") or "").strip()
        if extra and (not context or context[-1].text != extra):
            context = [*context, Turn(sender="them", text=extra)]
        return {"context": context}

    async def _retrieve(self, state: RepliesState) -> dict[str, Any]:
        others = [t.text for t in state["context"] if not t.own]
        anchor = others[-1] if others else ""
        if not anchor:
            return {"similar": []}
        try:
            found = await self._source.similar(state["group"], anchor, 4)
        except AIUnavailable:  # retrieval only adds context; go on without it
            found = []
        recent = {t.text for t in state["context"]}
        return {"similar": [s for s in found if s not in recent][:3]}

    async def _generate(self, state: RepliesState) -> dict[str, Any]:
        request = ChatRequest("smart_replies", state["context"], similar=state["similar"])
        answer = await self._guard.complete(request, ReplySuggestions)
        return {
            "replies": distinct(answer.value.replies),
            "confidence": answer.value.confidence,
            "provider": answer.provider,
        }

    async def _moderate_replies(self, state: RepliesState) -> dict[str, Any]:
        replies = state["replies"][: MAX_REPLIES + 2]
        if not replies:
            return {"replies": []}
        try:
            verdicts = (await self._guard.moderate(replies)).value
        except AIUnavailable:  # never show unchecked text: check it here instead
            verdicts = (await self._guard.moderate(replies, local=True)).value
        kept = [r for r, v in zip(replies, verdicts, strict=True) if not v.flagged]
        return {"replies": kept[:MAX_REPLIES]}

    # --- typing suggestions: context -> complete -> check --------------------

    def _typing_graph(self) -> Any:
        return pipeline(
            TypingState, ("load_phrases", self._load_phrases), ("complete", self._complete)
        )

    async def _load_phrases(self, state: TypingState) -> dict[str, Any]:
        limit = self._context if self._guard.remote else self._phrases
        return {"context": await self._source.recent(state["group"], state["user_id"], limit)}

    async def _complete(self, state: TypingState) -> dict[str, Any]:
        context = state["context"]
        request = ChatRequest(
            "typing",
            context[-self._context :],
            partial_text=state["partial_text"],
            phrases=[t.text for t in context],
        )
        answer = await self._guard.complete(request, Completion)
        completion = answer.value.completion
        # A suggestion is short and shown at once: checked locally, no extra round trip.
        if completion.strip():
            verdict = (await self._guard.moderate([completion], local=True)).value[0]
            if verdict.flagged:
                completion = ""
        return {
            "completion": completion,
            "confidence": answer.value.confidence if completion else 0.0,
            "provider": answer.provider,
        }

    # --- summaries -----------------------------------------------------------

    def _summary_graph(self) -> Any:
        return pipeline(
            SummaryState, ("load_range", self._load_range), ("summarize", self._summarize)
        )

    async def _load_range(self, state: SummaryState) -> dict[str, Any]:
        turns = await self._source.since(state["group"], state["user_id"], state["since"], 200)
        return {"context": turns}

    async def _summarize(self, state: SummaryState) -> dict[str, Any]:
        if not state["context"]:
            return {"summary": "No messages in this period.", "topics": [], "provider": "none"}
        answer = await self._guard.complete(ChatRequest("summarize", state["context"]), Summary)
        return {
            "summary": answer.value.summary,
            "topics": answer.value.topics,
            "provider": answer.provider,
        }
