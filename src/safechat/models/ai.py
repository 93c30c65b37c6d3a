"""AI requests: socket payloads, REST bodies and queries."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from safechat.models.common import Inbound, ObjectIdStr, Query, parse_iso


def _iso(value: str) -> str:
    parse_iso(value)  # raises ValueError on a malformed time
    return value


IsoTime = Annotated[str, Field(max_length=40), AfterValidator(_iso)]
Text = Annotated[str, Field(max_length=4000)]
SearchText = Annotated[str, Field(min_length=1, max_length=500)]


class SmartRepliesRequest(Inbound):
    groupId: ObjectIdStr
    messageId: ObjectIdStr | None = None
    messageContent: Text | None = None


class TypingSuggestionsRequest(Inbound):
    groupId: ObjectIdStr
    partialText: Annotated[str, Field(max_length=1000)]
    cursorPosition: Annotated[int, Field(ge=0, le=1000)] | None = None

    def typed(self) -> str:
        """The text before the cursor: what is being completed."""
        if self.cursorPosition is None:
            return self.partialText
        return self.partialText[: self.cursorPosition]


class RateSuggestion(Inbound):
    requestId: Annotated[str, Field(min_length=1, max_length=64)]
    suggestion: Annotated[str, Field(max_length=500)] | None = None
    rating: Literal["positive", "negative"]
    feedback: Annotated[str, Field(max_length=1000)] | None = None


class ModerateBody(Inbound):
    content: Text


class SummarizeBody(Inbound):
    groupId: ObjectIdStr
    since: IsoTime | None = None

    def since_time(self) -> datetime | None:
        return parse_iso(self.since) if self.since else None


class SearchBody(Inbound):
    groupId: ObjectIdStr
    query: SearchText
    limit: Annotated[int, Field(ge=1, le=50)] = 10


class SearchQuery(Query):
    q: SearchText
    limit: int = Field(10, ge=1, le=50)


class FeedbackSummaryQuery(Query):
    groupId: ObjectIdStr
    since: IsoTime | None = None
